// SPDX-License-Identifier: GPL-2.0
/*
 * spec_test with vmx.ko loaded by the test itself, every forceable
 * speculation measure on (run by the rig while vmx.ko is not loaded).
 */
#include "spec_test.c"
