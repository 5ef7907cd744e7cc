package dotenv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUpdate(t *testing.T) {
	set := []Pair{{"INFISICAL_CLIENT_ID", "new-id"}, {"INFISICAL_CLIENT_SECRET", "s3cr3t"}}
	tests := []struct{ name, in, want string }{
		{"empty file", "", "INFISICAL_CLIENT_ID=new-id\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"kept in place, with comments and order",
			"# bootstrap\nA=1\nINFISICAL_CLIENT_SECRET=old # the old one\n\n# db\nINFISICAL_CLIENT_ID=old\nB='2'\n",
			"# bootstrap\nA=1\nINFISICAL_CLIENT_SECRET=s3cr3t\n\n# db\nINFISICAL_CLIENT_ID=new-id\nB='2'\n"},
		{"appended after a last line without newline", "A=1", "A=1\nINFISICAL_CLIENT_ID=new-id\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"export kept", "export INFISICAL_CLIENT_ID=old\n", "export INFISICAL_CLIENT_ID=new-id\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"later duplicates dropped", "INFISICAL_CLIENT_ID=a\nX=1\nINFISICAL_CLIENT_ID=b\n", "INFISICAL_CLIENT_ID=new-id\nX=1\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"a multi-line value replaced whole", "INFISICAL_CLIENT_SECRET=\"line one\nline two\"\nZ=9\n", "INFISICAL_CLIENT_SECRET=s3cr3t\nZ=9\nINFISICAL_CLIENT_ID=new-id\n"},
		{"CRLF kept", "A=1\r\nINFISICAL_CLIENT_ID=old\r\n", "A=1\r\nINFISICAL_CLIENT_ID=new-id\r\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"BOM kept", "\xef\xbb\xbfINFISICAL_CLIENT_ID=old\n", "\xef\xbb\xbfINFISICAL_CLIENT_ID=new-id\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
		{"commented-out keys stay comments", "#INFISICAL_CLIENT_ID=x\n", "#INFISICAL_CLIENT_ID=x\nINFISICAL_CLIENT_ID=new-id\nINFISICAL_CLIENT_SECRET=s3cr3t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Update(".env", []byte(tt.in), set)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			f, err := Parse(".env", got)
			if err != nil || f.Values["INFISICAL_CLIENT_ID"] != "new-id" || f.Values["INFISICAL_CLIENT_SECRET"] != "s3cr3t" {
				t.Errorf("reads back as %v, %v", f, err)
			}
		})
	}
	if _, err := Update(".env", []byte("A=1\nnot a line\n"), set); err == nil || err.Error() != ".env:2: expected KEY=VALUE" {
		t.Errorf("a file that does not parse: %v", err)
	}
	if _, err := Update(".env", nil, []Pair{{"1BAD", "x"}}); err == nil {
		t.Error("a bad key was written")
	}
}

// TestUpdateQuotes: whatever the value, it reads back as itself.
func TestUpdateQuotes(t *testing.T) {
	for _, v := range []string{"", "plain", "http://h:8080/api", "a b", "x #y", `q"uote`, `back\slash`, "tab\there", "new\nline", "'single'", "$HOME", "=eq", "#hash"} {
		got, err := Update("f", nil, []Pair{{"K", v}})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse("f", got)
		if err != nil || f.Values["K"] != v {
			t.Errorf("%q written as %q reads back as %q (%v)", v, got, f.Values["K"], err)
		}
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	if err := os.WriteFile(p, []byte("OLD=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(context.Background(), p, []byte("NEW=1\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v (%v), want 0600", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(p); string(b) != "NEW=1\n" {
		t.Errorf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}

	// A link is followed: the file it points at is replaced, the link stays.
	real := filepath.Join(dir, "real.env")
	os.WriteFile(real, []byte("A=1\n"), 0o600)
	link := filepath.Join(dir, "link.env")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(context.Background(), link, []byte("A=2\n")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	if b, _ := os.ReadFile(real); string(b) != "A=2\n" {
		t.Errorf("the link's target holds %q", b)
	}

	// A new file is made; a folder cannot be written over.
	if err := WriteFile(context.Background(), filepath.Join(dir, "fresh.env"), []byte("X=1\n")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(context.Background(), dir, []byte("X")); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("over a folder: %v", err)
	}
	if err := WriteFile(context.Background(), filepath.Join(dir, "no", "such", ".env"), []byte("X")); err == nil {
		t.Error("into a missing folder: no error")
	}
}

// FuzzUpdate: on any file that parses, Update sets its keys and leaves
// every other key's value as it was.
func FuzzUpdate(f *testing.F) {
	for _, s := range []string{"A=1\n", "export K='x'\n", "K=\"a\\n\nb\"\nB=2", "# c\n\nK=x #y\nK=z\n", "\xef\xbb\xbfK=1\r\n", "A=\"k\nK=1\"\n"} {
		f.Add([]byte(s), "v a\"l")
	}
	f.Fuzz(func(t *testing.T, data []byte, v string) {
		before, err := Parse("f", data)
		if err != nil || strings.ContainsAny(v, "\x00\r") || !utf8.ValidString(v) {
			return
		}
		out, err := Update("f", data, []Pair{{"K", v}})
		if err != nil {
			t.Fatal(err)
		}
		after, err := Parse("f", out)
		if err != nil {
			t.Fatalf("%q does not parse: %v", out, err)
		}
		if after.Values["K"] != v {
			t.Fatalf("K = %q, want %q, in %q", after.Values["K"], v, out)
		}
		for k, val := range before.Values {
			if k != "K" && after.Values[k] != val {
				t.Fatalf("%s changed from %q to %q in %q", k, val, after.Values[k], out)
			}
		}
		want := len(before.Values)
		if !slices.Contains(before.Keys, "K") {
			want++
		}
		if len(after.Values) != want {
			t.Fatalf("keys %v became %v", before.Keys, after.Keys)
		}
	})
}
