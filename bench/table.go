package main

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// table is a plain-text table: the README quotes the output as is, so it
// uses spaces only and no box-drawing characters.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, a ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, a...))
}

// print right-aligns a column when every cell in it looks like a number,
// so figures line up on their last digit; other columns are left-aligned.
func (t *table) print(w io.Writer) {
	cols := len(t.head)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	width := make([]int, cols)
	numeric := make([]bool, cols)
	for i := range numeric {
		numeric[i] = i > 0
	}
	for i, h := range t.head {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
			if c != "" && c != "-" && !looksNumeric(c) {
				numeric[i] = false
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i := range cols {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if numeric[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	total := 0
	for _, wd := range width {
		total += wd
	}
	total += 2 * (cols - 1)
	fmt.Fprintln(w, t.title)
	fmt.Fprintln(w, strings.Repeat("=", max(utf8.RuneCountInString(t.title), total)))
	line(t.head)
	fmt.Fprintln(w, strings.Repeat("-", total))
	for _, r := range t.rows {
		line(r)
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, "  "+n)
	}
	fmt.Fprintln(w)
}

func looksNumeric(s string) bool {
	s = strings.TrimLeft(s, "+-−≤≥~×")
	return s != "" && (s[0] >= '0' && s[0] <= '9')
}

// ms formats a duration in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// signedMS formats an overhead, which noise can make negative.
func signedMS(d time.Duration) string {
	return fmt.Sprintf("%+.2f", float64(d)/float64(time.Millisecond))
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func mib(b int64) string { return fmt.Sprintf("%.2f", float64(b)/(1<<20)) }

// thousands writes 9146530 as 9,146,530.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
