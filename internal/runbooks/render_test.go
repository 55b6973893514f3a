package runbooks

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	t.Parallel()
	content, err := os.ReadFile("../runbook/testdata/good/exam-submit.md")
	require.NoError(t, err)
	body := "\n# Known failures\nA `code <b>` span, **bold**, *em* and [a link](https://example.com/x?a=1&b=2).\n\n- one\n- <img src=x onerror=alert(1)>\n\n[bad](javascript:alert(1))\n\n```\n<script>alert(1)</script>\n```\n"
	rb := &Runbook{ID: "exam-submit", Flow: "exam-submit", Title: "t", Content: string(content) + body,
		Confirmed: []Confirmation{{Level: "flag", Index: 1, Measured: 90 * time.Second, Budget: 2 * time.Minute}}}
	html := string(Render(rb))
	for _, want := range []string{
		"<h1>Students cannot submit exams</h1>",
		"<strong>T1</strong> flow_error_rate of exam-submit &gt; 5% over 1m for 5 consecutive window(s)",
		`<span class="timebox">3m</span>`,
		"<td>flag</td><td>flag exam_submit_v2 (ripcord) set to false for everyone</td><td>oncall-mobile, oncall-backend, incident-lead</td><td>2m</td><td>2 minutes</td>",
		"<td>not rehearsed</td>",
		"<h2>Known failures</h2>",
		"<code>code &lt;b&gt;</code>", "<strong>bold</strong>", "<em>em</em>",
		`<a href="https://example.com/x?a=1&amp;b=2" rel="noopener noreferrer">a link</a>`,
		"<li>&lt;img src=x onerror=alert(1)&gt;</li>",
		"<p>bad)</p>", // a link target ends at its first parenthesis; a non-http one is dropped
		"<pre><code>&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>",
	} {
		require.Contains(t, html, want)
	}
	require.NotContains(t, html, "javascript:")
}

func TestFormatMeasured(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0 seconds", time.Second: "1 second", 59 * time.Second: "59 seconds", time.Minute: "1 minute",
		61 * time.Second: "2 minutes", 6 * time.Minute: "6 minutes",
	} {
		require.Equal(t, want, FormatMeasured(d), "%s", d)
	}
}

// FuzzMarkdown checks that no input makes the renderer emit markup it did
// not write itself: every '<' in the output opens one of its own tags.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"# h\ntext", "- a\n- b", "```\n<x>\n```", "[a](https://x)", "**b** *e* `c`", "[a](javascript:x)", "\x000\x00`<`"} {
		f.Add(s)
	}
	allowed := []string{"<p>", "</p>", "<h", "</h", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>", "<pre>", "</pre>", "<code>", "</code>",
		"<strong>", "</strong>", "<em>", "</em>", `<a href="http`, "</a>"}
	f.Fuzz(func(t *testing.T, src string) {
		out := string(Markdown(src))
		for i := strings.IndexByte(out, '<'); i >= 0; {
			ok := false
			for _, a := range allowed {
				if strings.HasPrefix(out[i:], a) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("unexpected markup at %d in %q", i, out)
			}
			j := strings.IndexByte(out[i+1:], '<')
			if j < 0 {
				break
			}
			i += j + 1
		}
	})
}
