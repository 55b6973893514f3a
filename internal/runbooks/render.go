package runbooks

import (
	"fmt"
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ripcordhq/ripcord/internal/runbook"
)

// Render turns a stored runbook into HTML for the dashboard: a summary of
// its front matter (triggers, steps with their time boxes, rollback levels
// with budgets and confirmed times, comms) and its Markdown body. Only a
// small Markdown subset is understood (headings, paragraphs, lists, code
// blocks, inline code, bold, italics, http(s) links); every piece of text is
// escaped, so a runbook can never inject markup or script.
func Render(rb *Runbook) template.HTML {
	var b strings.Builder
	parsed, findings := runbook.Parse("runbooks/"+rb.ID+".md", []byte(rb.Content))
	fmt.Fprintf(&b, `<article class="runbook"><h1>%s</h1>`, esc(cmpStr(parsed.Title, rb.Title)))
	fmt.Fprintf(&b, `<p class="meta">Flow <code>%s</code> · owners %s · git <code>%s</code> · content <code>%s</code></p>`,
		esc(rb.Flow), esc(strings.Join(parsed.Owners, ", ")), esc(short(rb.GitSHA)), esc(short(rb.ContentHash)))
	if len(findings) > 0 {
		b.WriteString(`<p class="warning">This version does not lint clean:</p><ul>`)
		for _, f := range findings {
			fmt.Fprintf(&b, "<li>%s</li>", esc(f.String()))
		}
		b.WriteString("</ul>")
	}
	if len(parsed.Triggers) > 0 {
		b.WriteString(`<h2>Triggers</h2><ul>`)
		for _, t := range parsed.Triggers {
			fmt.Fprintf(&b, "<li><strong>%s</strong> %s</li>", esc(t.ID), esc(TriggerText(t)))
		}
		b.WriteString("</ul>")
	}
	if len(parsed.Steps) > 0 {
		b.WriteString(`<h2>Steps</h2><ol>`)
		for _, st := range parsed.Steps {
			fmt.Fprintf(&b, `<li><span class="timebox">%s</span> <span class="role">%s</span> %s`, esc(fmtDur(st.Timebox)), esc(st.Role), esc(st.Do))
			if st.Expect != "" {
				fmt.Fprintf(&b, `<br>Expect: %s<br>Otherwise: %s`, esc(st.Expect), esc(st.Otherwise))
			}
			b.WriteString("</li>")
		}
		b.WriteString("</ol>")
	}
	if len(parsed.Rollback) > 0 {
		b.WriteString(`<h2>Rollback</h2><table><tr><th>Level</th><th>What</th><th>Who</th><th>Budget</th><th>Confirmed</th><th>Verify</th></tr>`)
		for i, l := range parsed.Rollback {
			confirmed := "not rehearsed"
			for _, c := range rb.Confirmed {
				if c.Index == i+1 {
					confirmed = FormatMeasured(c.Measured)
				}
			}
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
				esc(l.Level), esc(LevelWhat(l)), esc(strings.Join(l.Who, ", ")), esc(fmtDur(l.Budget)), esc(confirmed), esc(l.Verify))
		}
		b.WriteString("</table>")
	}
	if len(parsed.Comms) > 0 {
		b.WriteString(`<h2>Communication</h2>`)
		for _, c := range parsed.Comms {
			fmt.Fprintf(&b, `<p>After %s, to %s via %s:</p><pre>%s</pre>`, esc(fmtDur(c.After)), esc(c.Audience), esc(c.Channel), esc(c.Template))
		}
	}
	b.WriteString(`<section class="body">`)
	b.WriteString(string(Markdown(parsed.Body)))
	b.WriteString("</section></article>")
	return template.HTML(b.String()) //nolint:gosec // every piece of text above is escaped
}

// TriggerText writes a trigger as a sentence: "flow_error_rate of
// exam-submit > 5% over 1m for 5 consecutive windows (min volume 30)".
func TriggerText(t runbook.Trigger) string {
	sig := t.Signal
	if t.Flow != "" {
		sig += " of " + t.Flow
	}
	return fmt.Sprintf("%s %s %s over %s for %d consecutive window(s) (min volume %d, %s)", sig, t.Op, t.Threshold, fmtDur(t.Window), t.Consecutive, t.MinVolume, t.Severity)
}

// LevelWhat says what a rollback level acts on.
func LevelWhat(l runbook.RollbackLevel) string {
	switch l.Level {
	case "flag":
		return strings.TrimSpace(fmt.Sprintf("flag %s (%s) %s", l.Flag, l.Provider, l.Action))
	case "deploy":
		return "deploy " + l.Target
	case "migration":
		if l.Reversible != nil && !*l.Reversible {
			return "migration " + l.Migration + " (irreversible; forward fix: " + l.ForwardFix + ")"
		}
		return "migration " + l.Migration
	case "data":
		if l.Strategy == "pitr" && l.PITR != nil {
			return "point-in-time recovery of " + l.PITR.Database
		}
		if l.AcceptedRisk != nil {
			return "accepted risk: " + l.AcceptedRisk.Statement + " (signed " + l.AcceptedRisk.SignedBy + ", " + l.AcceptedRisk.Date + ")"
		}
	}
	return l.Level
}

// FormatMeasured writes a measured time as people read it: seconds under
// a minute, else minutes rounded up (a budget is never met by rounding down).
func FormatMeasured(d time.Duration) string {
	if d < time.Minute {
		n := int(d.Round(time.Second) / time.Second)
		if n == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", n)
	}
	m := int((d + time.Minute - 1) / time.Minute)
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func esc(s string) string { return html.EscapeString(s) }

var (
	headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	ulRe      = regexp.MustCompile(`^\s*[-*+]\s+(.*)$`)
	olRe      = regexp.MustCompile(`^\s*\d+[.)]\s+(.*)$`)
	codeRe    = regexp.MustCompile("`([^`]+)`")
	boldRe    = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	emRe      = regexp.MustCompile(`(^|[^*])\*([^*]+)\*`)
	linkRe    = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
)

// Markdown renders the subset described at Render. Block structure is read
// line by line; inline markup is applied to already-escaped text, and link
// targets other than http(s) are dropped to plain text.
func Markdown(src string) template.HTML {
	var b strings.Builder
	var para []string
	list := ""
	inCode := false
	flushPara := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>")
			para = nil
		}
	}
	closeList := func() {
		if list != "" {
			b.WriteString("</" + list + ">")
			list = ""
		}
	}
	for _, line := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			flushPara()
			closeList()
			if inCode {
				b.WriteString("</code></pre>")
			} else {
				b.WriteString("<pre><code>")
			}
			inCode = !inCode
			continue
		}
		if inCode {
			b.WriteString(esc(line) + "\n")
			continue
		}
		switch m := matchBlock(line); {
		case strings.TrimSpace(line) == "":
			flushPara()
			closeList()
		case m.kind == "h":
			flushPara()
			closeList()
			fmt.Fprintf(&b, "<h%d>%s</h%d>", m.level, inline(m.text), m.level)
		case m.kind == "ul" || m.kind == "ol":
			flushPara()
			if list != m.kind {
				closeList()
				b.WriteString("<" + m.kind + ">")
				list = m.kind
			}
			b.WriteString("<li>" + inline(m.text) + "</li>")
		default:
			closeList()
			para = append(para, strings.TrimSpace(line))
		}
	}
	flushPara()
	closeList()
	if inCode {
		b.WriteString("</code></pre>")
	}
	return template.HTML(b.String()) //nolint:gosec // built from escaped text only
}

type block struct {
	kind  string
	level int
	text  string
}

func matchBlock(line string) block {
	if m := headingRe.FindStringSubmatch(line); m != nil {
		// Headings inside the body sit below the runbook's own title.
		return block{kind: "h", level: min(len(m[1])+1, 6), text: m[2]}
	}
	if m := ulRe.FindStringSubmatch(line); m != nil {
		return block{kind: "ul", text: m[1]}
	}
	if m := olRe.FindStringSubmatch(line); m != nil {
		return block{kind: "ol", text: m[1]}
	}
	return block{}
}

// inline escapes s and then applies inline markup to the escaped text;
// code spans are set aside first so markup inside them stays literal.
func inline(s string) string {
	s = esc(s)
	var codes []string
	s = codeRe.ReplaceAllStringFunc(s, func(m string) string {
		codes = append(codes, "<code>"+m[1:len(m)-1]+"</code>")
		return fmt.Sprintf("\x00%d\x00", len(codes)-1)
	})
	s = linkRe.ReplaceAllStringFunc(s, func(m string) string {
		p := linkRe.FindStringSubmatch(m)
		target := html.UnescapeString(p[2])
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return p[1]
		}
		return `<a href="` + esc(u.String()) + `" rel="noopener noreferrer">` + p[1] + `</a>`
	})
	s = boldRe.ReplaceAllString(s, "<strong>$1</strong>")
	s = emRe.ReplaceAllString(s, "$1<em>$2</em>")
	for i, c := range codes {
		s = strings.Replace(s, fmt.Sprintf("\x00%d\x00", i), c, 1)
	}
	return s
}
