package whitelist

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"unsafe"

	"github.com/smartworkcenters/swc/shared/protocol"
)

func TestZZHeap(t *testing.T) {
	in := network(10000)
	c, err := New(context.Background(), Config{Signer: protocol.NewSigner(testKey), States: newMemStates(), Logger: quietLogger()}, in, t0)
	if err != nil {
		t.Fatal(err)
	}
	in = Input{}
	runtime.GC()
	f, _ := os.Create("/tmp/heap.out")
	pprof.WriteHeapProfile(f)
	f.Close()
	runtime.KeepAlive(c)
}

func TestZZCount(t *testing.T) {
	c, err := New(context.Background(), Config{Signer: protocol.NewSigner(testKey), States: newMemStates(), Logger: quietLogger()}, network(1000), t0)
	if err != nil {
		t.Fatal(err)
	}
	n := map[bool][]int{}
	for _, a := range c.audiences {
		n[a.key.room == ""] = append(n[a.key.room == ""], len(a.entries))
	}
	t.Log(len(c.audiences), n[true][:5], n[false][:8])
}

func TestZZSize(t *testing.T) {
	t.Log("door", unsafe.Sizeof(door{}), "run", unsafe.Sizeof(run{}), "audience", unsafe.Sizeof(audience{}))
}
