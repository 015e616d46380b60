	.code16
	.org 0
start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %ss
	mov $0x7c00, %sp
	lgdt gdtr - start + 0x7c00
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $0x08, $(pm - start + 0x7c00)
	.code32
pm:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	/* page directory at 0x1000: 4 MiB identity page (PSE) */
	mov $0x1000, %edi
	mov $0x83, %eax            /* present, writable, 4 MiB */
	mov %eax, (%edi)
	mov %cr4, %eax
	or $0x10, %eax             /* PSE */
	mov %eax, %cr4
	mov %edi, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax       /* PG */
	mov %eax, %cr0
	/* some work with paging on: sum 1..100000 */
	xor %eax, %eax
	mov $100000, %ecx
1:	add %ecx, %eax
	loop 1b
	cmp $705082704, %eax       /* 5000050000 mod 2^32 */
	jne 2f
	mov $1, %al
	out %al, $0xf4             /* isa-debug-exit: QEMU exits with status 3 */
2:	mov $2, %al
	out %al, $0xf4             /* wrong result: status 5 */
	hlt
	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff   /* code 0x08 */
	.quad 0x00cf92000000ffff   /* data 0x10 */
gdtr:
	.word gdtr - gdt - 1
	.long gdt - start + 0x7c00
	.org 510
	.byte 0x55, 0xaa
