/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal to libvmx (acpi.c and its unit test): the AML PkgLength encoder. */
#ifndef LIBVMX_ACPI_AML_H
#define LIBVMX_ACPI_AML_H

#include <stdint.h>

/*
 * Encode the AML PkgLength @len (which counts its own encoding bytes) into
 * @out.  Returns the number of bytes (1..4), or 0 if @len >= 2^28.
 */
int lv_acpi_pkglength(uint8_t out[4], uint32_t len);

#endif
