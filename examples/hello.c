// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * hello: the smallest useful VMM on libvmx.
 *
 * It gives a VM 64 KiB of RAM, loads a 16-bit real-mode program that
 * writes a greeting, byte by byte, to the serial port (0x3f8), and runs
 * the vCPU with a port I/O callback that prints those bytes.  The guest
 * ends with HLT, which ends the run loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vmx/libvmx.h>

#define RAM_SIZE	0x10000
#define CODE_GPA	0x1000
#define MSG_GPA		0x1100
#define UART_PORT	0x3f8

/*
 *	mov  si, MSG_GPA
 *	mov  dx, UART_PORT
 * next:	lodsb
 *	test al, al
 *	jz   done
 *	out  dx, al
 *	jmp  next
 * done:	hlt
 */
static const unsigned char guest_code[] = {
	0xbe, MSG_GPA & 0xff, MSG_GPA >> 8,
	0xba, UART_PORT & 0xff, UART_PORT >> 8,
	0xac,
	0x84, 0xc0,
	0x74, 0x03,
	0xee,
	0xeb, 0xf8,
	0xf4,
};

static const char greeting[] = "Hello from a vmx guest!\n";

static int uart_out(void *opaque, struct libvmx_vcpu *vcpu, uint16_t port,
		    void *data, unsigned int size, bool is_out)
{
	unsigned int *count = opaque;

	(void)vcpu;
	if (port != UART_PORT || !is_out)
		return 0;
	fwrite(data, 1, size > 1 ? 1 : size, stdout);
	(*count)++;
	return 0;
}

static int setup_vcpu(struct libvmx_vcpu *vcpu)
{
	struct vmx_sregs sregs;
	struct vmx_regs regs;
	int ret;

	/* Real mode with CS:IP = 0000:CODE_GPA. */
	ret = libvmx_vcpu_get_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	ret = libvmx_vcpu_set_sregs(vcpu, &sregs);
	if (ret)
		return ret;
	ret = libvmx_vcpu_get_regs(vcpu, &regs);
	if (ret)
		return ret;
	regs.rip = CODE_GPA;
	return libvmx_vcpu_set_regs(vcpu, &regs);
}

int main(void)
{
	const struct libvmx_exit_ops ops = { .pio = uart_out };
	struct libvmx_vcpu *vcpu = NULL;
	struct libvmx_vm *vm = NULL;
	struct libvmx *vmx = NULL;
	unsigned int bytes = 0;
	int ret;

	ret = libvmx_open(&vmx);
	if (ret) {
		fprintf(stderr, "hello: cannot open /dev/vmx: %s (is vmx.ko loaded?)\n",
			strerror(-ret));
		return 1;
	}
	ret = libvmx_vm_create(vmx, 0, &vm);
	if (!ret)
		ret = libvmx_vm_add_ram(vm, 0, 0, RAM_SIZE, 0, NULL);
	if (!ret)
		ret = libvmx_write_gpa(vm, CODE_GPA, guest_code, sizeof(guest_code));
	if (!ret)
		ret = libvmx_write_gpa(vm, MSG_GPA, greeting, sizeof(greeting));
	if (!ret)
		ret = libvmx_vcpu_create(vm, 0, &vcpu);
	if (!ret)
		ret = setup_vcpu(vcpu);
	if (ret) {
		fprintf(stderr, "hello: VM set-up failed: %s\n", strerror(-ret));
		goto out;
	}

	ret = libvmx_vcpu_loop(vcpu, &ops, &bytes);
	fflush(stdout);
	if (ret == VMX_EXIT_HLT && bytes == strlen(greeting)) {
		fprintf(stderr, "hello: guest halted after %u bytes\n", bytes);
		ret = 0;
	} else {
		fprintf(stderr, "hello: unexpected end of the guest: %d (%u bytes)\n",
			ret, bytes);
		ret = ret ? ret : -EIO;
	}
out:
	libvmx_vcpu_destroy(vcpu);
	libvmx_vm_destroy(vm);
	libvmx_close(vmx);
	return ret ? 1 : 0;
}
