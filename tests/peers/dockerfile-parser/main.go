// Command dockerfile-parser prints the images a Dockerfile makes BuildKit pull, as read by
// BuildKit's own Dockerfile parser (moby/buildkit frontend/dockerfile, the version in go.mod):
// the frontend a `syntax` directive or the BUILDKIT_SYNTAX build arg selects, every FROM base
// after global ARG expansion (as dockerfile2llb does it), every `COPY --from=<image>` and every
// `RUN --mount=from=<image>`. Stage names and `scratch` are not images.
//
// Usage: dockerfile-parser [--build-arg K=V]... DOCKERFILE
//
// Output (stdout, one JSON object): {"images":[...]} and exit 0, or {"error":"..."} and exit 1
// when BuildKit would refuse the Dockerfile.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

type output struct {
	Images *[]string `json:"images,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// env is a shell.EnvGetter over an ordered list of NAME=VALUE.
type env struct{ m map[string]string }

func (e env) Get(k string) (string, bool) { v, ok := e.m[k]; return v, ok }
func (e env) Keys() []string {
	keys := make([]string, 0, len(e.m))
	for k := range e.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func images(dt []byte, buildArgs map[string]string) ([]string, error) {
	var out []string
	// The frontend image: BUILDKIT_SYNTAX first, then the directive (frontend/dockerfile/builder).
	if v, ok := buildArgs["BUILDKIT_SYNTAX"]; ok {
		p := strings.SplitN(strings.TrimSpace(v), " ", 2)
		out = append(out, "frontend:"+p[0])
	} else if ref, _, _, ok := parser.DetectSyntax(dt); ok {
		out = append(out, "frontend:"+ref)
	}
	res, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	// A linter is needed once a comment says `check=…`; its warnings do not change the images.
	lint := linter.New(&linter.Config{SkipAll: true, Warn: func(string, string, string, string, []parser.Range) {}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, errors.New("dockerfile contains no stages to build")
	}
	shlex := shell.NewLex(res.EscapeToken)
	// Global scope: the automatic platform args (a linux/amd64 build here), then the meta ARGs,
	// each default expanded with what is set so far, a build arg replacing it.
	global := env{m: map[string]string{
		"BUILDPLATFORM": "linux/amd64", "BUILDOS": "linux", "BUILDOSVERSION": "", "BUILDARCH": "amd64",
		"BUILDVARIANT": "", "TARGETPLATFORM": "linux/amd64", "TARGETOS": "linux", "TARGETOSVERSION": "",
		"TARGETARCH": "amd64", "TARGETVARIANT": "", "TARGETSTAGE": "default",
	}}
	for k, v := range buildArgs {
		if _, ok := global.m[k]; ok {
			global.m[k] = v
		}
	}
	for _, cmd := range metaArgs {
		for _, kp := range cmd.Args {
			if v, ok := buildArgs[kp.Key]; ok {
				global.m[kp.Key] = v
				continue
			}
			if kp.Value != nil {
				r, err := shlex.ProcessWordWithMatches(*kp.Value, global)
				if err != nil {
					return nil, err
				}
				global.m[kp.Key] = r.Result
			}
		}
	}
	named := map[string]int{}
	for i, st := range stages {
		r, err := shlex.ProcessWordWithMatches(st.BaseName, global)
		if err != nil {
			return nil, err
		}
		if r.Result == "" {
			return nil, fmt.Errorf("base name (%s) should not be blank", st.BaseName)
		}
		if _, isStage := named[r.Result]; !isStage && r.Result != "scratch" {
			out = append(out, r.Result)
		}
		if st.Name != "" {
			named[strings.ToLower(st.Name)] = i
		}
	}
	allNamed := map[string]bool{}
	for _, st := range stages {
		if st.Name != "" {
			allNamed[strings.ToLower(st.Name)] = true
		}
	}
	for _, st := range stages {
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From == "" {
					continue
				}
				r, err := shlex.ProcessWordWithMatches(c.From, env{m: map[string]string{}})
				if err != nil {
					return nil, err
				}
				if r.Result != c.From {
					return nil, errors.New("variable expansion is not supported for --from")
				}
				if index, err := strconv.Atoi(c.From); err == nil {
					if index < 0 || index >= len(stages) {
						return nil, fmt.Errorf("invalid stage index %d", index)
					}
					continue
				}
				if !allNamed[strings.ToLower(c.From)] && c.From != "scratch" {
					out = append(out, c.From)
				}
			case *instructions.RunCommand:
				stageEnv := env{m: map[string]string{}}
				if err := c.Expand(func(w string) (string, error) {
					r, err := shlex.ProcessWordWithMatches(w, stageEnv)
					return r.Result, err
				}); err != nil {
					return nil, err
				}
				for _, m := range instructions.GetMounts(c) {
					if m.From == "" {
						continue
					}
					// A mount names a stage by name only (convert_runmount.go), never by index.
					if !allNamed[strings.ToLower(m.From)] && m.From != "scratch" {
						out = append(out, m.From)
					}
				}
			}
		}
	}
	return out, nil
}

func main() {
	buildArgs := map[string]string{}
	args := os.Args[1:]
	for len(args) >= 2 && args[0] == "--build-arg" {
		k, v, _ := strings.Cut(args[1], "=")
		buildArgs[k] = v
		args = args[2:]
	}
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-parser [--build-arg K=V]... DOCKERFILE")
		os.Exit(2)
	}
	dt, err := os.ReadFile(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var o output
	list, err := images(dt, buildArgs)
	if err != nil {
		o.Error = err.Error()
	} else {
		if list == nil {
			list = []string{}
		}
		o.Images = &list
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(o)
	if err != nil {
		os.Exit(1)
	}
}
