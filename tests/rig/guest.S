/* The rig's guest "OS": a multiboot image, booted by QEMU's -kernel.
 * Default: the BSP wakes the APs with INIT + SIPI into a two-byte
 * real-mode "jmp ." at 0x8000 and spins too, so every vCPU burns CPU.
 * -DIDLE: the BSP halts and the APs are never woken.
 * -DWAKE_ON_NMI: idle until an NMI (virsh inject-nmi), then as default —
 * load that starts after the guest was placed. */
	.text
	.align 4
	.long 0x1BADB002              /* multiboot magic */
	.long 0                       /* flags */
	.long -0x1BADB002             /* checksum */

	.code32
	.globl _start
_start:
	cli
#if defined(IDLE) || defined(WAKE_ON_NMI)
#ifdef WAKE_ON_NMI
	movl $spin, %eax              /* IDT entry 2 (NMI) -> spin */
	movw %ax, idt + 16
	shrl $16, %eax
	movw %ax, idt + 22
	movw %cs, %ax
	movw %ax, idt + 18
	movw $0x8E00, idt + 20        /* present, 32-bit interrupt gate */
	lidt idtr
#endif
1:	hlt
	jmp 1b
#endif
spin:
	movw $0xFEEB, 0x8000          /* jmp . */
	movl $0xFEE00300, %edi        /* local APIC ICR */
	movl $0x000C4500, (%edi)      /* INIT, all excluding self */
	movl $1000000, %ecx
2:	loop 2b
	movl $0x000C4608, (%edi)      /* SIPI, vector 0x08: start at 0x8000 */
	movl $100000, %ecx
3:	loop 3b
	movl $0x000C4608, (%edi)      /* second SIPI, as the MP spec asks */
4:	jmp 4b

#ifdef WAKE_ON_NMI
	.align 8
idt:	.fill 24, 1, 0
idtr:	.word 23
	.long idt
#endif
