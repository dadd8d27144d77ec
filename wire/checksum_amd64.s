#include "textflag.h"

// func sumAVX2(b []byte, lanes *[16]uint32)
//
// Adds the little-endian 16-bit words of b, len(b) a multiple of 32 and at
// most 64 KiB, into 16 32-bit lanes (each word zero-extended; no lane can
// overflow at that length) and stores them in *lanes for the caller to
// fold. See checksum_amd64.go.
TEXT ·sumAVX2(SB), NOSPLIT, $0-32
	MOVQ b_base+0(FP), SI
	MOVQ b_len+8(FP), CX
	MOVQ lanes+24(FP), DI
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7

loop64:
	CMPQ CX, $64
	JB   loop32
	VMOVDQU (SI), Y2
	VMOVDQU 32(SI), Y8
	VPUNPCKLWD Y7, Y2, Y3
	VPUNPCKHWD Y7, Y2, Y4
	VPUNPCKLWD Y7, Y8, Y9
	VPUNPCKHWD Y7, Y8, Y10
	VPADDD Y3, Y0, Y0
	VPADDD Y4, Y1, Y1
	VPADDD Y9, Y5, Y5
	VPADDD Y10, Y6, Y6
	ADDQ $64, SI
	SUBQ $64, CX
	JMP  loop64

loop32:
	CMPQ CX, $32
	JB   done
	VMOVDQU (SI), Y2
	VPUNPCKLWD Y7, Y2, Y3
	VPUNPCKHWD Y7, Y2, Y4
	VPADDD Y3, Y0, Y0
	VPADDD Y4, Y1, Y1
	ADDQ $32, SI
	SUBQ $32, CX
	JMP  loop32

done:
	VPADDD Y5, Y0, Y0
	VPADDD Y6, Y1, Y1
	VMOVDQU Y0, (DI)
	VMOVDQU Y1, 32(DI)
	VZEROUPPER
	RET
