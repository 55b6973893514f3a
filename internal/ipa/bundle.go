package ipa

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Bundle kinds, as reported by Inspect.
const (
	KindApp       = "app"       // KindApp is the main app in Payload/.
	KindExtension = "appex"     // KindExtension is an app extension (PlugIns/ or Extensions/).
	KindWatchApp  = "watch"     // KindWatchApp is a watchOS app under Watch/.
	KindAppClip   = "appclip"   // KindAppClip is an App Clip under AppClips/.
	KindFramework = "framework" // KindFramework is a framework; it keeps its own version.
)

// bundle is one code bundle inside the IPA.
type bundle struct {
	dir      string // zip path, e.g. "Payload/App.app/PlugIns/Share.appex"
	kind     string
	parent   *bundle
	children []*bundle
	dylibs   []string // loose Mach-O libraries in Frameworks/, full zip paths
	info     *infoPlist
	infoRaw  []byte
	exe      string // full zip path of CFBundleExecutable
}

func (b *bundle) id() string { return b.info.str("CFBundleIdentifier") }

// versioned reports whether the bundle carries the app's version: every
// app and extension does; frameworks keep their own.
func (b *bundle) versioned() bool { return b.kind != KindFramework }

// needsProfile reports whether the bundle must embed a provisioning profile.
func (b *bundle) needsProfile() bool { return b.kind != KindFramework }

// nested code locations inside a bundle, in the order they are discovered.
var nestedKinds = []struct{ sub, ext, kind string }{
	{"PlugIns", ".appex", KindExtension},
	{"Extensions", ".appex", KindExtension},
	{"Watch", ".app", KindWatchApp},
	{"AppClips", ".app", KindAppClip},
	{"Frameworks", ".framework", KindFramework},
}

// discover finds Payload/<Name>.app and every nested bundle beneath it.
func discover(a *archive) (*bundle, error) {
	apps := a.bundleDirs("", "Payload", ".app")
	if len(apps) != 1 {
		return nil, fmt.Errorf("%w: expected exactly one Payload/*.app with an Info.plist, found %d", ErrFormat, len(apps))
	}
	root := &bundle{dir: apps[0], kind: KindApp}
	if err := loadBundle(a, root, 0); err != nil {
		return nil, err
	}
	return root, nil
}

func loadBundle(a *archive, b *bundle, depth int) error {
	if depth > 4 {
		return fmt.Errorf("%w: bundles nested more than 4 deep at %s", ErrFormat, b.dir)
	}
	raw, err := a.read(b.dir+"/Info.plist", a.lim.MaxPlist)
	if err != nil {
		return err
	}
	info, err := parsePlist(raw)
	if err != nil {
		return fmt.Errorf("%s/Info.plist: %w", b.dir, err)
	}
	b.info, b.infoRaw = info, raw
	exe := info.str("CFBundleExecutable")
	if exe == "" || strings.Contains(exe, "/") {
		return fmt.Errorf("%w: %s/Info.plist has no usable CFBundleExecutable %q", ErrFormat, b.dir, exe)
	}
	b.exe = b.dir + "/" + exe
	if zf, ok := a.files[b.exe]; !ok || isSymlink(zf) {
		return fmt.Errorf("%w: executable %s is missing", ErrFormat, b.exe)
	}
	if b.id() == "" {
		return fmt.Errorf("%w: %s/Info.plist has no CFBundleIdentifier", ErrFormat, b.dir)
	}
	for _, nk := range nestedKinds {
		dirs := a.bundleDirs(b.dir, nk.sub, nk.ext)
		slices.Sort(dirs)
		for _, d := range dirs {
			c := &bundle{dir: d, kind: nk.kind, parent: b}
			if err := loadBundle(a, c, depth+1); err != nil {
				return err
			}
			b.children = append(b.children, c)
		}
	}
	prefix := b.dir + "/Frameworks/"
	for name, zf := range a.files {
		rest, ok := strings.CutPrefix(name, prefix)
		if ok && !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".dylib") && !isSymlink(zf) {
			b.dylibs = append(b.dylibs, name)
		}
	}
	slices.Sort(b.dylibs)
	return nil
}

// postOrder lists bundles innermost first: each bundle after everything it
// nests, because a parent seals its children's cdhashes.
func postOrder(b *bundle) []*bundle {
	var out []*bundle
	for _, c := range b.children {
		out = append(out, postOrder(c)...)
	}
	return append(out, b)
}

// rel is name relative to the bundle directory.
func (b *bundle) rel(name string) string { return strings.TrimPrefix(name, b.dir+"/") }

// nestedDirs are the bundle-relative directories of nested bundles.
func (b *bundle) nestedDirs() []string {
	out := make([]string, len(b.children))
	for i, c := range b.children {
		out[i] = b.rel(c.dir)
	}
	return out
}

func dylibIdent(name string) string { return strings.TrimSuffix(path.Base(name), ".dylib") }
