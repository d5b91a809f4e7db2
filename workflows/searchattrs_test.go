package workflows

import (
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
