package bank

import (
	"errors"
	"testing"

	"pgregory.net/rapid"
)

func TestCommunication(t *testing.T) {
	for _, tc := range []struct {
		ref     int64
		printed string
	}{
		{1234567890, "+++123/4567/89002+++"}, // the reference's example
		{97, "+++000/0000/09797+++"},         // remainder 0 → 97
		{1, "+++000/0000/00101+++"},
		{MaxReference, "+++999/9999/99948+++"},
	} {
		c, err := NewCommunication(tc.ref)
		if err != nil {
			t.Fatalf("NewCommunication(%d): %v", tc.ref, err)
		}
		if c.String() != tc.printed {
			t.Errorf("NewCommunication(%d) = %s; want %s", tc.ref, c, tc.printed)
		}
		back, err := ParseCommunication(tc.printed)
		if err != nil || back != c || back.Reference() != tc.ref {
			t.Errorf("ParseCommunication(%s) = %v, %v", tc.printed, back, err)
		}
	}
	for _, bad := range []int64{0, -5, MaxReference + 1} {
		if _, err := NewCommunication(bad); !errors.Is(err, ErrCommunication) {
			t.Errorf("NewCommunication(%d) err = %v; want ErrCommunication", bad, err)
		}
	}
}

func TestParseCommunication(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // digits, "" for an error
	}{
		{"+++123/4567/89002+++", "123456789002"},
		{"***123/4567/89002***", "123456789002"},
		{" 123456789002 ", "123456789002"},
		{"+++123/4567/89003+++", ""}, // wrong check
		{"+++123-4567-89002+++", ""},
		{"12345678900", ""},
		{"12345678900a", ""},
		{"000000000097", ""}, // reference 0
		{"", ""},
	} {
		c, err := ParseCommunication(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrCommunication) {
				t.Errorf("ParseCommunication(%q) = %v, %v; want ErrCommunication", tc.in, c, err)
			}
			continue
		}
		if err != nil || c.Digits() != tc.want {
			t.Errorf("ParseCommunication(%q) = %q, %v; want %s", tc.in, c.Digits(), err, tc.want)
		}
	}
}

// Every reference round-trips, and changing any one digit is detected.
func TestCommunicationProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ref := rapid.Int64Range(1, MaxReference).Draw(t, "ref")
		c, err := NewCommunication(ref)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseCommunication(c.String())
		if err != nil || back.Reference() != ref {
			t.Fatalf("round trip %d: %v %v", ref, back, err)
		}
		pos := rapid.IntRange(0, 11).Draw(t, "pos")
		d := []byte(c.Digits())
		d[pos] = '0' + (d[pos]-'0'+byte(rapid.IntRange(1, 9).Draw(t, "delta")))%10
		if m, err := ParseCommunication(string(d)); err == nil && m.Reference() != 0 {
			t.Fatalf("one-digit change %s of %s accepted", d, c.Digits())
		}
	})
}

func TestParseIBAN(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"BE68 5390 0754 7034", "BE68539007547034"},
		{"be71096123456769", "BE71096123456769"},
		{"NL91ABNA0417164300", "NL91ABNA0417164300"},
		{"DE89 3704 0044 0532 0130 00", "DE89370400440532013000"},
		{"FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"},
		{"LU280019400644750000", "LU280019400644750000"},
		{"BE68539007547035", ""}, // check
		{"BE6853900754703", ""},  // length
		{"XX68539007547034", ""}, // country
		{"BE6853900754703!", ""}, // character
		{"BEAB539007547034", ""}, // check digits not digits
		{"", ""},
	} {
		got, err := ParseIBAN(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrIBAN) {
				t.Errorf("ParseIBAN(%q) = %q, %v; want ErrIBAN", tc.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("ParseIBAN(%q) = %q, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	i, _ := ParseIBAN("BE68539007547034")
	if i.Printed() != "BE68 5390 0754 7034" || i.Country() != "BE" || !i.SEPA() {
		t.Errorf("Printed %q Country %q SEPA %v", i.Printed(), i.Country(), i.SEPA())
	}
	if tr, _ := ParseIBAN("TR330006100519786457841326"); tr.SEPA() {
		t.Error("TR is not SEPA")
	}
}

func TestParseBIC(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GEBABEBB", "GEBABEBB"},
		{"gkccbebb", "GKCCBEBB"},
		{"BBRUBEBB010", "BBRUBEBB010"},
		{"GEBABEB", ""},
		{"GEBA1EBB", ""},
		{"GEBABEBB01", ""},
		{"GEBA-EBB", ""},
	} {
		got, err := ParseBIC(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrBIC) {
				t.Errorf("ParseBIC(%q) = %q, %v; want ErrBIC", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBIC(%q) = %q, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
