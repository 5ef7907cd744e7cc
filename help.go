package main

// The help text: `secret-init --help` (or -h, or help) prints every flag a
// start or an operator command takes, from the same kong tags the parser
// reads. kong's own printer would show only the flags of the node asked
// about, and the run command, which holds --mode, --group, --rewrite and
// --grace, is hidden so that it never shows as a word to type.

import (
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// usageLine is the one usage line, in the help and after a usage error.
const usageLine = "Usage: secret-init [flags] [--] COMMAND [ARG...]   (or: secret-init plan|check|seed|provision|version|help [flags])"

// helpWidth is the width the help is wrapped to.
const helpWidth = 80

// printHelp is kong's help printer: the whole help for the top level and
// the run command, kong's own for plan, check, seed, provision and version.
func printHelp(options kong.HelpOptions, ctx *kong.Context) error {
	if sel := ctx.Selected(); sel != nil && sel.Name != "run" {
		return outputFailed(kong.DefaultHelpPrinter(options, ctx))
	}
	var b strings.Builder
	writeHelp(&b, ctx.Model)
	_, err := io.WriteString(ctx.Stdout, b.String())
	return outputFailed(err)
}

// writeHelp renders the top-level help from the model.
func writeHelp(b *strings.Builder, app *kong.Application) {
	b.WriteString(usageLine + "\n\n")
	for _, l := range wrap(app.Help, helpWidth) {
		b.WriteString(l + "\n")
	}
	b.WriteString("\nCommands:\n")
	rows := [][2]string{{"(none)", "Run COMMAND with the secrets its contracts declare (the default). Everything after -- is COMMAND: secret-init -- help runs a program named help."}}
	for _, c := range app.Children {
		if !c.Hidden {
			rows = append(rows, [2]string{c.Name, c.Help})
		}
	}
	rows = append(rows, [2]string{"help", "Print this help (also -h, --help). secret-init COMMAND --help shows one command's flags."})
	writeColumns(b, rows)

	b.WriteString("\nFlags of every command:\n")
	writeColumns(b, flagRows(visibleFlags(app.Flags)))
	sections := []struct {
		title string
		names []string
		flags []*kong.Flag
	}{{title: "a start"}}
	for _, c := range app.Children {
		flags := visibleFlags(c.Flags)
		switch {
		case c.Name == "run":
			sections[0].flags = flags
		case len(flags) == 0:
		case sameFlags(sections[len(sections)-1].flags, flags):
			// plan and check share their flags: one section for both
			sections[len(sections)-1].names = append(sections[len(sections)-1].names, c.Name)
		default:
			sections = append(sections, struct {
				title string
				names []string
				flags []*kong.Flag
			}{names: []string{c.Name}, flags: flags})
		}
	}
	for _, sec := range sections {
		title := sec.title
		if title == "" {
			title = strings.Join(sec.names, " and ")
		}
		fmt.Fprintf(b, "\nFlags of %s:\n", title)
		writeColumns(b, flagRows(sec.flags))
	}
	b.WriteString("\n")
	for _, l := range wrap("Exit codes: the command's own; 128+N when signal N killed it; 125 when secret-init failed before it started "+
		"(usage, bad input, missing keys, Infisical); 126 not executable; 127 not found. check: 1 when a start would fail; "+
		"seed: 1 when a key failed; provision: 1 when a step failed.", helpWidth) {
		b.WriteString(l + "\n")
	}
}

// sameFlags reports whether two commands take the same flags.
func sameFlags(a, b []*kong.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || a[i].Help != b[i].Help {
			return false
		}
	}
	return true
}

// runNode is the hidden run command.
func runNode(app *kong.Application) *kong.Node {
	for _, c := range app.Children {
		if c.Name == "run" {
			return c
		}
	}
	return &kong.Node{}
}

func visibleFlags(flags []*kong.Flag) []*kong.Flag {
	var out []*kong.Flag
	for _, f := range flags {
		if !f.Hidden {
			out = append(out, f)
		}
	}
	return out
}

// flagRows renders each flag as "-s, --name=PLACEHOLDER" and its help,
// default and variables.
func flagRows(flags []*kong.Flag) [][2]string {
	rows := make([][2]string, 0, len(flags))
	for _, f := range flags {
		name := "--" + f.Name
		if f.IsBool() && f.Tag.Negatable != "" {
			name = "--[no-]" + f.Name
		}
		left := "    " + name
		if f.Short != 0 {
			left = "-" + string(f.Short) + ", " + name
		}
		if !f.IsBool() {
			left += "=" + f.FormatPlaceHolder()
		}
		help := f.Help
		switch {
		case f.IsBool() && f.Default == "true":
			help += " Default: on."
		case !f.IsBool() && f.Default != "" && f.PlaceHolder != "":
			help += " Default: " + f.Default + "." // else the placeholder shows it
		}
		if len(f.Envs) > 0 {
			help += " ($" + strings.Join(f.Envs, ", $") + ")"
		}
		rows = append(rows, [2]string{left, help})
	}
	return rows
}

// writeColumns writes rows as an indented left column and its wrapped
// text; a left column too wide for the text's column gets a line of its
// own.
func writeColumns(b *strings.Builder, rows [][2]string) {
	const indent, maxLeft = 2, 26
	width := 0
	for _, r := range rows {
		if n := len(r[0]); n <= maxLeft {
			width = max(width, n)
		}
	}
	pad := strings.Repeat(" ", indent+width+2)
	for _, r := range rows {
		lines := wrap(r[1], helpWidth-len(pad))
		first := strings.Repeat(" ", indent) + r[0]
		if len(r[0]) > width {
			b.WriteString(first + "\n")
		} else if len(lines) > 0 {
			lines[0] = first + strings.Repeat(" ", len(pad)-len(first)) + lines[0]
		}
		for i, l := range lines {
			if i > 0 || len(r[0]) > width {
				l = pad + l
			}
			b.WriteString(l + "\n")
		}
	}
}

// wrap breaks text into lines of at most width runes, at spaces; a blank
// line in text starts a new paragraph.
func wrap(text string, width int) []string {
	var lines []string
	for i, para := range strings.Split(text, "\n\n") {
		if i > 0 {
			lines = append(lines, "")
		}
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
