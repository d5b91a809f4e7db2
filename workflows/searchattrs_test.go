package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

func TestMissingSearchAttributesCountsAWrongTypeAsMissing(t *testing.T) {
	registered := SearchAttributeTypes()
	require.Empty(t, MissingSearchAttributes(registered))

	registered[SearchAttrMetadata] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
	delete(registered, SearchAttrState)
	require.Equal(t, []string{SearchAttrMetadata, SearchAttrState}, MissingSearchAttributes(registered))
}

func TestMetadataKeywordsCutsLongItemsOnARuneBoundary(t *testing.T) {
	// "kk=" and 200 two-byte runes: byte 256 is the first half of a rune.
	value := strings.Repeat("é", 200)
	got := MetadataKeywords(map[string]any{"kk": value})
	require.Len(t, got, 1)
	require.Equal(t, "kk="+strings.Repeat("é", 126), got[0])
	require.True(t, utf8.ValidString(got[0]))
}

func TestMetadataKeywordsFitTheServersValueLimit(t *testing.T) {
	md := map[string]any{}
	for i := range 40 {
		md[fmt.Sprintf("key%02d", i)] = strings.Repeat("v", 100)
	}
	got := MetadataKeywords(md)
	require.Len(t, got, 18, "the first items in sort order that fit")
	require.Equal(t, "key00="+strings.Repeat("v", 100), got[0])
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), 2048)
	more, err := json.Marshal(append(got, "key18="+strings.Repeat("v", 100)))
	require.NoError(t, err)
	require.Greater(t, len(more), 2048, "one item more would not fit")
}
