/* The rig's guest "OS": a multiboot image, booted by QEMU's -kernel.
 * spin (default): the BSP wakes the APs with INIT + SIPI into a
 * two-byte real-mode "jmp ." at 0x8000 and spins too, so every vCPU
 * burns CPU. With -DIDLE: the BSP halts and the APs are never woken. */
	.text
	.align 4
	.long 0x1BADB002              /* multiboot magic */
	.long 0                       /* flags */
	.long -0x1BADB002             /* checksum */

	.code32
	.globl _start
_start:
	cli
#ifdef IDLE
1:	hlt
	jmp 1b
#else
	movw $0xFEEB, 0x8000          /* jmp . */
	movl $0xFEE00300, %edi        /* local APIC ICR */
	movl $0x000C4500, (%edi)      /* INIT, all excluding self */
	movl $1000000, %ecx
1:	loop 1b
	movl $0x000C4608, (%edi)      /* SIPI, vector 0x08: start at 0x8000 */
	movl $100000, %ecx
2:	loop 2b
	movl $0x000C4608, (%edi)      /* second SIPI, as the MP spec asks */
3:	jmp 3b
#endif
