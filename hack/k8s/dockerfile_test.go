package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case
	args string
}

// parseDockerfile splits a Dockerfile into instructions (comments and parser directives dropped).
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasPrefix(line, "#") { // comment inside a continued instruction
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// lintDockerfile checks the project's rules for images:
//   - every base image is pinned (a tag other than latest, or a digest) or is an earlier stage;
//   - the final stage switches to a numeric non-root USER;
//   - no ADD of URLs or git repositories, no curl/wget in RUN (dependencies come from Debian, npm and the Go proxy);
//   - apt-get install uses --no-install-recommends and the same RUN removes /var/lib/apt/lists;
//   - ENTRYPOINT is in exec (JSON) form.
func lintDockerfile(text string) []string {
	var problems []string
	bad := func(in instruction, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d (%s): %s", in.line, in.cmd, fmt.Sprintf(format, args...)))
	}
	args := map[string]string{}
	var stages []string
	finalUser := ""
	sawFrom, sawEntrypoint := false, false
	for _, in := range parseDockerfile(text) {
		switch in.cmd {
		case "ARG":
			if !sawFrom {
				name, def, _ := strings.Cut(in.args, "=")
				args[name] = def
			}
		case "FROM":
			sawFrom = true
			finalUser = ""
			fields := strings.Fields(in.args)
			var image string
			for _, f := range fields {
				if !strings.HasPrefix(f, "--") {
					image = f
					break
				}
			}
			image = argRef.ReplaceAllStringFunc(image, func(m string) string {
				return args[argRef.FindStringSubmatch(m)[1]]
			})
			if !slices.Contains(stages, image) && !pinned(image) {
				bad(in, "base image %q is not pinned to a tag or digest", image)
			}
			// the stage name becomes usable by later FROMs
			if i := slices.IndexFunc(fields, func(f string) bool { return strings.EqualFold(f, "AS") }); i >= 0 && i+1 < len(fields) {
				stages = append(stages, fields[i+1])
			}
		case "USER":
			finalUser = strings.Fields(in.args)[0]
		case "ADD":
			if regexp.MustCompile(`(?i)(https?://|git@|\.git\b)`).MatchString(in.args) {
				bad(in, "ADD of a URL or git repository: %s", in.args)
			}
		case "RUN":
			if regexp.MustCompile(`\b(curl|wget)\b`).MatchString(in.args) {
				bad(in, "downloads with curl/wget (use Debian packages, npm or the Go module proxy)")
			}
			if strings.Contains(in.args, "apt-get install") {
				if !strings.Contains(in.args, "--no-install-recommends") {
					bad(in, "apt-get install without --no-install-recommends")
				}
				if !strings.Contains(in.args, "rm -rf /var/lib/apt/lists") {
					bad(in, "apt-get install without removing /var/lib/apt/lists in the same layer")
				}
			}
		case "ENTRYPOINT":
			sawEntrypoint = true
			if !strings.HasPrefix(in.args, "[") {
				bad(in, "ENTRYPOINT in shell form (signals would go to a shell): %s", in.args)
			}
		}
	}
	uid, _, _ := strings.Cut(finalUser, ":")
	switch {
	case finalUser == "":
		problems = append(problems, "the final stage has no USER: it would run as root")
	case !regexp.MustCompile(`^[0-9]+$`).MatchString(uid) || uid == "0":
		problems = append(problems, fmt.Sprintf("final USER %q is not a numeric non-root uid (runAsNonRoot needs one)", finalUser))
	}
	if !sawEntrypoint {
		problems = append(problems, "no ENTRYPOINT")
	}
	return problems
}

// TestDockerfiles lints every containers/*/Dockerfile.
func TestDockerfiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "containers", "*", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d Dockerfiles, want the emulator's and the broker's", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lintDockerfile(string(data)) {
			t.Errorf("%s: %s", f, p)
		}
	}
}

// TestDockerfileLintCatches: the linter reports each rule on a Dockerfile that breaks them all.
func TestDockerfileLintCatches(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "bad.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lintDockerfile(string(data)), "\n")
	for _, want := range []string{`base image "debian" is not pinned`, `base image "golang:latest" is not pinned`,
		"ADD of a URL", "curl/wget", "--no-install-recommends", "/var/lib/apt/lists", "shell form",
		`final USER "root"`} {
		if !strings.Contains(got, want) {
			t.Errorf("lint did not report %q; got:\n%s", want, got)
		}
	}
	if p := lintDockerfile("FROM scratch:1\nENTRYPOINT [\"/x\"]\n"); !strings.Contains(strings.Join(p, "\n"), "no USER") {
		t.Errorf("a Dockerfile without USER passed: %v", p)
	}
}
