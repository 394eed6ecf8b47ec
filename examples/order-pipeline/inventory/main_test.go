package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A torn tail (a line without its newline) is cut off at open, its order
// counts as not applied, and the next order starts on a fresh line.
func TestLedgerTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.log")
	old := "ord-1 SKU-1 -2 1/2\nord-1 SKU-2 -1 2/2\nord-2 SKU-1 -3 1/1\n"
	if err := os.WriteFile(path, []byte(old+"ord-3 SK"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := openLedger(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if !l.seen["ord-1"] || !l.seen["ord-2"] || l.seen["ord-3"] || len(l.seen) != 2 {
		t.Fatalf("seen = %v, want ord-1 and ord-2", l.seen)
	}
	ord3 := &order{OrderID: "ord-3", Items: []item{{"SKU-7", 2}, {"SKU-8", 1}}}
	if ok, err := l.apply(ord3); !ok || err != nil {
		t.Fatalf("apply ord-3 = %v, %v; want true, nil", ok, err)
	}
	if ok, err := l.apply(ord3); ok || err != nil {
		t.Fatalf("apply ord-3 again = %v, %v; want false, nil", ok, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := old + "ord-3 SKU-7 -2 1/2\nord-3 SKU-8 -1 2/2\n"
	if string(got) != want {
		t.Fatalf("log =\n%s\nwant\n%s", got, want)
	}
}

// An order cut short between two of its lines (a write ended early by
// SIGKILL) is cut back whole at open, so applying it again writes it whole.
func TestLedgerTornOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "inventory.log")
	old := "ord-1 SKU-1 -2 1/1\n"
	if err := os.WriteFile(path, []byte(old+"ord-2 SKU-1 -1 1/3\nord-2 SKU-2 -1 2/3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := openLedger(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if !l.seen["ord-1"] || l.seen["ord-2"] {
		t.Fatalf("seen = %v, want only ord-1", l.seen)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != old {
		t.Fatalf("log after open =\n%s\nwant\n%s", got, old)
	}
}

// A reopened ledger knows the orders applied before (a restart).
func TestLedgerReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox") // created by openLedger
	l, err := openLedger(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.apply(&order{OrderID: "ord-9", Items: []item{{"SKU-1", 1}}}); err != nil {
		t.Fatal(err)
	}
	l.close()
	l, err = openLedger(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	if !l.seen["ord-9"] || len(l.seen) != 1 {
		t.Fatalf("seen after reopen = %v, want ord-9", l.seen)
	}
}

func TestParseOrder(t *testing.T) {
	good := `{"event":"order.created","order_id":"ord-1","user_id":"u-1","items":[{"sku":"SKU-1","qty":2}]}`
	if o, err := parseOrder([]byte(good)); err != nil || o.OrderID != "ord-1" || o.Items[0].Qty != 2 {
		t.Fatalf("parseOrder(good) = %+v, %v", o, err)
	}
	bad := map[string]string{
		"not JSON":     `{"event":`,
		"wrong event":  `{"event":"order.paid","order_id":"ord-1","items":[{"sku":"S","qty":1}]}`,
		"no order id":  `{"event":"order.created","items":[{"sku":"S","qty":1}]}`,
		"space in id":  `{"event":"order.created","order_id":"ord 1","items":[{"sku":"S","qty":1}]}`,
		"no items":     `{"event":"order.created","order_id":"ord-1","items":[]}`,
		"empty sku":    `{"event":"order.created","order_id":"ord-1","items":[{"sku":"","qty":1}]}`,
		"newline sku":  `{"event":"order.created","order_id":"ord-1","items":[{"sku":"S\n","qty":1}]}`,
		"zero qty":     `{"event":"order.created","order_id":"ord-1","items":[{"sku":"S","qty":0}]}`,
		"fraction qty": `{"event":"order.created","order_id":"ord-1","items":[{"sku":"S","qty":1.5}]}`,
	}
	for name, data := range bad {
		if o, err := parseOrder([]byte(data)); err == nil {
			t.Errorf("%s: parseOrder = %+v, want an error", name, o)
		}
	}
}
