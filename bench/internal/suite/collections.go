package suite

import (
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/optio-temporal/optio/adapter"
)

// processes returns the engine's {prefix}_processes collection, which the
// measurements read and name directly (the engine itself hands out only a
// read-only view of its documents).
func processes(eng *adapter.Engine) *mongo.Collection {
	cfg := eng.Config()
	return cfg.Mongo.Collection(cfg.Prefix + "_processes")
}
