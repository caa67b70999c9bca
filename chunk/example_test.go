package chunk_test

import (
	"fmt"
	"strings"

	"github.com/baohan-dev/baohan/chunk"
)

// The sender cuts the encrypted file into chunks, one uploadbaohanfile
// each, with 1-based indexes on the wire.
func ExampleSplit() {
	ciphertext := strings.NewReader("0123456789abcdefghij") // 20 bytes
	err := chunk.Split(ciphertext, 8, func(i int, b64 string) error {
		fmt.Printf("index %d baohanfile %s\n", i+1, b64)
		return nil
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(chunk.Count(20, 8), "chunks")
	// Output:
	// index 1 baohanfile MDEyMzQ1Njc=
	// index 2 baohanfile ODlhYmNkZWY=
	// index 3 baohanfile Z2hpag==
	// 3 chunks
}

// The receiver takes the chunks in whatever order and number they come,
// and joins them when they are all there.
func ExampleAssembler() {
	a := chunk.Assembler{Expected: 3} // bak1 announced three chunks
	for _, c := range []struct {
		index int
		b64   string
	}{{3, "Z2hpag=="}, {1, "MDEyMzQ1Njc="}, {3, "Z2hpag=="}} { // the third twice: idempotent
		if err := a.AddBase64(c.index, c.b64); err != nil {
			panic(err)
		}
	}
	fmt.Println(a.Check())
	fmt.Println(a.AddBase64(3, "eHh4eA==")) // other bytes for a chunk held

	if err := a.AddBase64(2, "ODlhYmNkZWY="); err != nil {
		panic(err)
	}
	file, err := a.Bytes()
	fmt.Println(string(file), err)
	// Output:
	// chunk: have 2 chunks, bak1 says 3 (1-based, indexes 1-3); missing index 2
	// chunk 3 was already received with different content (4 bytes kept, 4 bytes refused)
	// 0123456789abcdefghij <nil>
}
