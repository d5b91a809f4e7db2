package activitydef_test

import (
	"testing"

	"github.com/optio-temporal/optio/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
