// Command package builds the project's four Debian packages with nfpm (run
// through `go run`, nothing installed by hand) and checks each with
// dpkg-deb and lintian: swc-edge for armhf (Pi Zero/1/2/3/4 with 32-bit
// Raspberry Pi OS; the binary is ARMv6) and arm64, swc-central for amd64 and
// arm64.
//
//	go run ./scripts/package --version 0.1.0 --out dist
//
// It builds the binaries itself, stripped (-ldflags "-s -w", plus --ldflags),
// into <out>/bin. Each package holds its binary, its systemd units, a
// configuration example, a manual page (scripts/package/man), a DEP-5
// copyright file (the project's LICENSE) and the Debian changelog (scripts/package/changelog, whose newest entry
// must be --version), gzipped as policy 12.7 says. After building,
// `dpkg-deb --info` and `--contents` of every package are printed and
// checked, and lintian runs on it: an error (E:) fails the build; warnings
// are printed (scripts/package/lintian-overrides lists the accepted ones
// with their reasons). Run from the repository's root.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// Nfpm is the nfpm the packages are built with.
const Nfpm = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"

// Files of this folder the packages take.
const (
	ChangelogFile = "scripts/package/changelog"
	OverridesDir  = "scripts/package/lintian-overrides"
	ManDir        = "scripts/package/man"
	LicenseFile   = "LICENSE"
)

// file is one file of a package.
type file struct {
	Src, Dst string
	Mode     string // octal
	Type     string // "" or "config|noreplace"
}

// binary is one program to build for a package.
type binary struct {
	Name, Pkg     string // output file name in <out>/bin, Go package
	GOARCH, GOARM string
}

// pkg is one package to build.
type pkg struct {
	Name, Arch, DebArch string
	Binary              binary
	// Summary is the one-line description (at most 80 columns with the
	// package name); Description the extended one, in lines of at most 79.
	Summary, Description string
	Files                []file
	PostInst, PreRm      string
	PostRm               string
	Depends, Recommends  []string
	Suggests             []string
	// Check lists paths dpkg-deb --contents must show.
	Check []string
}

func packages(bin string) []pkg {
	edgeFiles := func(binary string) []file {
		return []file{
			{filepath.Join(bin, binary), "/usr/bin/swc-edge", "0755", ""},
			{"scripts/systemd/swc-edge.service", "/lib/systemd/system/swc-edge.service", "0644", ""},
			{"scripts/pi/swc-edge.toml", "/usr/share/doc/swc-edge/swc-edge.toml.example", "0644", ""},
			{"scripts/pi/swc-edge-sim.toml", "/usr/share/doc/swc-edge/swc-edge-sim.toml.example", "0644", ""},
			{"scripts/pi/README.md", "/usr/share/doc/swc-edge/README.md", "0644", ""},
			{"scripts/pi/setup.sh", "/usr/share/swc-edge/setup-pi.sh", "0755", ""},
		}
	}
	edgeCheck := []string{"./usr/bin/swc-edge", "./lib/systemd/system/swc-edge.service", "./usr/share/doc/swc-edge/swc-edge.toml.example",
		"./usr/share/swc-edge/setup-pi.sh", "./usr/share/doc/swc-edge/copyright", "./usr/share/doc/swc-edge/changelog.gz", "./usr/share/man/man1/swc-edge.1.gz"}
	centralFiles := func(binary string) []file {
		return []file{
			{filepath.Join(bin, binary), "/usr/bin/swc-central", "0755", ""},
			{"scripts/systemd/swc-central.service", "/lib/systemd/system/swc-central.service", "0644", ""},
			{"scripts/systemd/swc-central-crl.path", "/lib/systemd/system/swc-central-crl.path", "0644", ""},
			{"scripts/systemd/swc-central-crl.service", "/lib/systemd/system/swc-central-crl.service", "0644", ""},
			{"scripts/systemd/swc-central.default", "/etc/default/swc-central", "0644", "config|noreplace"},
			{"scripts/systemd/swc-central.default", "/usr/share/doc/swc-central/swc-central.default.example", "0644", ""},
			{"README.md", "/usr/share/doc/swc-central/README.md", "0644", ""},
			{"scripts/mosquitto/swc.conf", "/usr/share/swc-central/mosquitto/swc.conf", "0644", ""},
			{"scripts/mosquitto/swc.acl", "/usr/share/swc-central/mosquitto/swc.acl", "0644", ""},
		}
	}
	centralCheck := []string{"./usr/bin/swc-central", "./lib/systemd/system/swc-central.service", "./lib/systemd/system/swc-central-crl.path",
		"./etc/default/swc-central", "./usr/share/doc/swc-central/swc-central.default.example", "./usr/share/doc/swc-central/copyright",
		"./usr/share/doc/swc-central/changelog.gz", "./usr/share/man/man1/swc-central.1.gz"}
	const edgeSummary = "Smart Work Centers door agent for a Raspberry Pi"
	const edgeDesc = `Reads members' badges with an RC522 reader, decides offline from a signed
whitelist, drives the door relay and sensors over GPIO, and syncs events
and whitelists with the central service over MQTT with mutual TLS.
The door stays locked on any error.`
	const centralSummary = "Smart Work Centers central service"
	const centralDesc = `The network's source of truth for centers, rooms, doors, members, badges
and bookings: signs door whitelists, ingests door events, credits hours,
runs the booking site and the staff console, and includes an MQTT broker
and the certificate authority that enrolls doors. SQLite or PostgreSQL.`
	// useradd and groupadd come from passwd (priority required, not
	// essential). Mosquitto and PostgreSQL are for networks that outgrow
	// the embedded broker and SQLite: suggested, not recommended (apt would
	// install and start a second broker by default).
	edgeDeps, centralDeps := []string{"passwd"}, []string{"passwd"}
	edgeRec := []string{"systemd-timesyncd | time-daemon"}
	centralSug := []string{"mosquitto", "postgresql"}
	edge := func(arch, debArch, goarch, goarm string) pkg {
		name := "swc-edge-linux-" + debArch
		return pkg{Name: "swc-edge", Arch: arch, DebArch: debArch, Binary: binary{name, "./edge/cmd/swc-edge", goarch, goarm},
			Summary: edgeSummary, Description: edgeDesc, Files: edgeFiles(name), Depends: edgeDeps, Recommends: edgeRec,
			PostInst: "scripts/package/swc-edge.postinst", PreRm: "scripts/package/swc-edge.prerm", PostRm: "scripts/package/swc-edge.postrm", Check: edgeCheck}
	}
	central := func(arch, debArch, goarch string) pkg {
		name := "swc-central-linux-" + debArch
		return pkg{Name: "swc-central", Arch: arch, DebArch: debArch, Binary: binary{name, "./central/cmd/swc-central", goarch, ""},
			Summary: centralSummary, Description: centralDesc, Files: centralFiles(name), Depends: centralDeps, Suggests: centralSug,
			PostInst: "scripts/package/swc-central.postinst", PreRm: "scripts/package/swc-central.prerm", PostRm: "scripts/package/swc-central.postrm", Check: centralCheck}
	}
	return []pkg{
		edge("arm6", "armhf", "arm", "6"), // ARMv6: every Pi, Zero included, with 32-bit Raspberry Pi OS
		edge("arm64", "arm64", "arm64", ""),
		central("amd64", "amd64", "amd64"),
		central("arm64", "arm64", "arm64"),
	}
}

// nfpmConfig is an nfpm configuration; strings are written as JSON
// strings, which YAML reads as they are.
var nfpmConfig = template.Must(template.New("nfpm.yaml").Funcs(template.FuncMap{"q": func(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}}).Parse(`# Generated by scripts/package for {{.Name}} {{.DebArch}}.
name: {{q .Name}}
arch: {{q .Arch}}
platform: linux
version: {{q .Version}}
section: misc
priority: optional
maintainer: Smart Work Centers cooperative <maintainers@smartworkcenters.example>
description: {{q .FullDescription}}
vendor: Smart Work Centers
homepage: https://github.com/smartworkcenters/swc
license: MIT
{{- with .Depends}}
depends:
{{- range .}}
  - {{q .}}
{{- end}}
{{- end}}
{{- with .Recommends}}
recommends:
{{- range .}}
  - {{q .}}
{{- end}}
{{- end}}
{{- with .Suggests}}
suggests:
{{- range .}}
  - {{q .}}
{{- end}}
{{- end}}
contents:
{{- range .AllFiles}}
  - src: {{q .Src}}
    dst: {{q .Dst}}
{{- if .Type}}
    type: {{q .Type}}
{{- end}}
    file_info:
      mode: {{.Mode}}
{{- end}}
scripts:
  postinstall: {{q .PostInst}}
  preremove: {{q .PreRm}}
  postremove: {{q .PostRm}}
`))

// nfpmInput is what nfpmConfig renders.
type nfpmInput struct {
	pkg
	Version string
	// Docs holds the generated copyright and changelog.gz for the package.
	Docs string
}

// FullDescription is the Description field: the summary line, then the
// extended description.
func (in nfpmInput) FullDescription() string { return in.Summary + "\n" + in.Description }

// AllFiles are the package's files with its copyright, changelog, manual
// page and lintian overrides.
func (in nfpmInput) AllFiles() []file {
	fs := append([]file(nil), in.Files...)
	fs = append(fs,
		file{filepath.Join(in.Docs, "copyright"), "/usr/share/doc/" + in.Name + "/copyright", "0644", ""},
		file{filepath.Join(in.Docs, "changelog.gz"), "/usr/share/doc/" + in.Name + "/changelog.gz", "0644", ""},
		file{filepath.Join(in.Docs, in.Name+".1.gz"), "/usr/share/man/man1/" + in.Name + ".1.gz", "0644", ""},
		file{filepath.Join(OverridesDir, in.Name), "/usr/share/lintian/overrides/" + in.Name, "0644", ""})
	return fs
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "0.0.0", "package version (digits first, as Debian wants); the newest entry of "+ChangelogFile)
	out := fs.String("out", "dist", "folder the .deb files are written to (the binaries go to its bin/)")
	ldflags := fs.String("ldflags", "", "more linker flags for the binaries, such as -X main.version=0.1.0 (-s -w are always given)")
	goBin := fs.String("go", "go", "the go command (to build the binaries and run nfpm)")
	noLintian := fs.Bool("no-lintian", false, "do not run lintian (by default an error it reports fails the build)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || (*version)[0] < '0' || (*version)[0] > '9' {
		return fmt.Errorf("--version %q: a Debian version starts with a digit", *version)
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return errors.New("dpkg-deb is needed to check the packages (Debian/Ubuntu: apt-get install dpkg)")
	}
	if !*noLintian {
		if _, err := exec.LookPath("lintian"); err != nil {
			return errors.New("lintian is needed to check the packages (apt-get install lintian), or give --no-lintian")
		}
	}
	for _, script := range []string{"scripts/pi/setup.sh", "scripts/package/swc-edge.postinst", "scripts/package/swc-edge.prerm", "scripts/package/swc-edge.postrm",
		"scripts/package/swc-central.postinst", "scripts/package/swc-central.prerm", "scripts/package/swc-central.postrm"} {
		if b, err := exec.CommandContext(ctx, "sh", "-n", script).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: shell syntax: %v: %s", script, err, b)
		}
	}
	changelog, err := os.ReadFile(ChangelogFile)
	if err != nil {
		return err
	}
	if err := checkChangelog(changelog, *version); err != nil {
		return err
	}
	license, err := os.ReadFile(LicenseFile)
	if err != nil {
		return err
	}
	bin := filepath.Join(*out, "bin")
	cfgDir := filepath.Join(*out, "nfpm")
	for _, d := range []string{bin, cfgDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var built []string
	for _, p := range packages(bin) {
		if err := build(ctx, *goBin, p.Binary, bin, *ldflags, stderr); err != nil {
			return err
		}
		for _, f := range p.Files {
			if _, err := os.Stat(f.Src); err != nil {
				return fmt.Errorf("%s %s: %w (run from the repository's root)", p.Name, p.DebArch, err)
			}
		}
		docs := filepath.Join(*out, "doc", p.Name)
		if err := writeDocs(docs, p.Name, license, changelog); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := nfpmConfig.Execute(&b, nfpmInput{pkg: p, Version: *version, Docs: docs}); err != nil {
			return err
		}
		cfg := filepath.Join(cfgDir, p.Name+"-"+p.DebArch+".yaml")
		if err := os.WriteFile(cfg, b.Bytes(), 0o644); err != nil {
			return err
		}
		target := filepath.Join(*out, fmt.Sprintf("%s_%s_%s.deb", p.Name, *version, p.DebArch))
		cmd := exec.CommandContext(ctx, *goBin, "run", Nfpm, "package", "--config", cfg, "--packager", "deb", "--target", target)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("nfpm for %s %s: %w", p.Name, p.DebArch, err)
		}
		if err := check(ctx, target, p, stdout); err != nil {
			return err
		}
		if !*noLintian {
			if err := lintian(ctx, target, stdout); err != nil {
				return err
			}
		}
		built = append(built, target)
	}
	fmt.Fprintf(stdout, "\nBuilt and checked:\n")
	for _, deb := range built {
		if fi, err := os.Stat(deb); err == nil {
			fmt.Fprintf(stdout, "  %s (%.1f MB)\n", deb, float64(fi.Size())/1e6)
		}
	}
	return nil
}

// build builds one stripped binary into bin.
func build(ctx context.Context, goBin string, b binary, bin, ldflags string, stderr io.Writer) error {
	out := filepath.Join(bin, b.Name)
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags", strings.TrimSpace("-s -w "+ldflags), "-o", out, b.Pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.GOARCH, "GOARM="+b.GOARM)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w", b.Pkg, b.Name, err)
	}
	if fi, err := os.Stat(out); err == nil {
		fmt.Fprintf(stderr, "built %s (%.1f MB, stripped)\n", out, float64(fi.Size())/1e6)
	}
	return nil
}

// changelogHead matches the first line of a Debian changelog entry.
var changelogHead = regexp.MustCompile(`^([a-z0-9][a-z0-9+.-]+) \(([^ ()]+)\) [a-z-]+; urgency=[a-z]+$`)

// checkChangelog checks that the newest entry of a Debian changelog is
// version's, for both packages ("swc"), with a trailer line.
func checkChangelog(changelog []byte, version string) error {
	sc := bufio.NewScanner(bytes.NewReader(changelog))
	if !sc.Scan() {
		return fmt.Errorf("%s is empty", ChangelogFile)
	}
	m := changelogHead.FindStringSubmatch(sc.Text())
	if m == nil {
		return fmt.Errorf("%s: first line %q is not \"swc (VERSION) unstable; urgency=medium\"", ChangelogFile, sc.Text())
	}
	if m[2] != version {
		return fmt.Errorf("%s: the newest entry is %s, the packages are %s: add an entry for %s at the top", ChangelogFile, m[2], version, version)
	}
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), " -- ") {
			return nil
		}
		if changelogHead.MatchString(sc.Text()) {
			break
		}
	}
	return fmt.Errorf("%s: the newest entry has no \" -- NAME <EMAIL>  DATE\" line", ChangelogFile)
}

// writeDocs writes the package's copyright file (machine-readable, DEP-5,
// with the project's license), its changelog and its manual page (from
// ManDir), both gzipped, into dir.
func writeDocs(dir, name string, license, changelog []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var c bytes.Buffer
	fmt.Fprintf(&c, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: %s\nSource: https://github.com/smartworkcenters/swc\n\n", name)
	holder := "The Smart Work Centers cooperative and contributors"
	for _, line := range strings.Split(string(license), "\n") {
		if after, ok := strings.CutPrefix(line, "Copyright (c) "); ok {
			holder = after
		}
	}
	fmt.Fprintf(&c, "Files: *\nCopyright: %s\nLicense: Expat\n", holder)
	// The license text, as a DEP-5 paragraph: each line indented, blank
	// lines as " .". Its title and copyright line are in the fields above.
	body := strings.TrimSpace(string(license))
	if i := strings.Index(body, "Permission is hereby granted"); i > 0 {
		body = body[i:]
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.TrimSpace(line) == "" {
			c.WriteString(" .\n")
		} else {
			c.WriteString(" " + line + "\n")
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "copyright"), c.Bytes(), 0o644); err != nil {
		return err
	}
	if err := writeGzip(filepath.Join(dir, "changelog.gz"), changelog); err != nil {
		return err
	}
	man, err := os.ReadFile(filepath.Join(ManDir, name+".1"))
	if err != nil {
		return err
	}
	return writeGzip(filepath.Join(dir, name+".1.gz"), man)
}

// writeGzip writes data gzipped at the best compression, without a name or
// time stamp (reproducible), as policy wants for documentation.
func writeGzip(path string, data []byte) error {
	var z bytes.Buffer
	zw, err := gzip.NewWriterLevel(&z, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, z.Bytes(), 0o644)
}

// lintian runs lintian on a package and fails on any error (E:) it
// reports; warnings and the rest are printed.
func lintian(ctx context.Context, deb string, stdout io.Writer) error {
	out, err := exec.CommandContext(ctx, "lintian", "--fail-on", "error", "--display-info", "--tag-display-limit", "0", deb).CombinedOutput()
	fmt.Fprintf(stdout, "==> lintian %s\n%s", deb, out)
	if err != nil {
		return fmt.Errorf("lintian %s: %w (its errors are above)", deb, err)
	}
	return nil
}

// check prints dpkg-deb --info and --contents of a package and checks its
// architecture, name and files.
func check(ctx context.Context, deb string, p pkg, stdout io.Writer) error {
	info, err := exec.CommandContext(ctx, "dpkg-deb", "--info", deb).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dpkg-deb --info %s: %v: %s", deb, err, info)
	}
	contents, err := exec.CommandContext(ctx, "dpkg-deb", "--contents", deb).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dpkg-deb --contents %s: %v: %s", deb, err, contents)
	}
	fmt.Fprintf(stdout, "==> dpkg-deb --info %s\n%s==> dpkg-deb --contents %s\n%s\n", deb, info, deb, contents)
	var problems []string
	for _, want := range []string{"Package: " + p.Name, "Architecture: " + p.DebArch, "postinst", "prerm"} {
		if !bytes.Contains(info, []byte(want)) {
			problems = append(problems, "--info lacks "+want)
		}
	}
	for _, path := range p.Check {
		if !containsPath(contents, path) {
			problems = append(problems, "--contents lacks "+path)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", deb, strings.Join(problems, "; "))
	}
	return nil
}

// containsPath reports whether a dpkg-deb --contents listing (tar -tv
// lines, the path last) holds path.
func containsPath(listing []byte, path string) bool {
	for _, line := range strings.Split(string(listing), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[len(f)-1] == path {
			return true
		}
	}
	return false
}
