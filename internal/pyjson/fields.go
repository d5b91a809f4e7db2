package pyjson

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// Field is one JSON member of a struct type, after embedded structs have
// been flattened by encoding/json's rules.
type Field struct {
	// Name is the JSON key.
	Name string
	// Index is the path through embedded structs, for reflect.Value.FieldByIndex.
	Index []int
	// Type is the field's Go type.
	Type reflect.Type
	// Tag is the whole struct tag, for callers that read their own keys.
	Tag reflect.StructTag
	// OmitEmpty, OmitZero and Quoted are the omitempty, omitzero and string
	// options of the json tag.
	OmitEmpty, OmitZero, Quoted bool

	tagged bool
	depth  int
}

var fieldCache sync.Map // reflect.Type -> []Field

// FieldsOf returns the JSON fields of struct type t in encoding order. An
// exported field is included unless its json tag is "-"; the fields of an
// untagged embedded struct are promoted; when several fields claim one name
// the shallowest wins, then a tagged one, and a remaining tie drops them all.
func FieldsOf(t reflect.Type) []Field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]Field)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.([]Field)
}

func typeFields(t reflect.Type) []Field {
	type level struct {
		typ   reflect.Type
		index []int
	}
	var all []Field
	visited := map[reflect.Type]bool{}
	current := []level{{typ: t}}
	for depth := 0; len(current) > 0; depth++ {
		var next []level
		for _, lv := range current {
			if visited[lv.typ] {
				continue
			}
			visited[lv.typ] = true
			for i := range lv.typ.NumField() {
				sf := lv.typ.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validName(name) {
					name = ""
				}
				index := append(slices.Clone(lv.index), i)
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, level{typ: ft, index: index})
					continue
				}
				f := Field{
					Name:   name,
					Index:  index,
					Type:   sf.Type,
					Tag:    sf.Tag,
					tagged: name != "",
					depth:  depth,
				}
				if f.Name == "" {
					f.Name = sf.Name
				}
				for o := range strings.SplitSeq(opts, ",") {
					switch o {
					case "omitempty":
						f.OmitEmpty = true
					case "omitzero":
						f.OmitZero = true
					case "string":
						f.Quoted = isQuotable(sf.Type)
					}
				}
				all = append(all, f)
			}
		}
		current = next
	}

	byName := map[string][]Field{}
	for _, f := range all {
		byName[f.Name] = append(byName[f.Name], f)
	}
	var out []Field
	for _, group := range byName {
		if f, ok := dominant(group); ok {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b Field) int { return slices.Compare(a.Index, b.Index) })
	return out
}

func dominant(group []Field) (Field, bool) {
	minDepth := group[0].depth
	for _, f := range group {
		minDepth = min(minDepth, f.depth)
	}
	var shallow, tagged []Field
	for _, f := range group {
		if f.depth == minDepth {
			shallow = append(shallow, f)
			if f.tagged {
				tagged = append(tagged, f)
			}
		}
	}
	switch {
	case len(shallow) == 1:
		return shallow[0], true
	case len(tagged) == 1:
		return tagged[0], true
	}
	return Field{}, false
}

func isQuotable(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	}
	return false
}

// validName mirrors the key characters encoding/json accepts in a tag.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
