package store

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Environment variables from which LoadKeyFromEnv reads the encryption key. The key
// never comes from a flag: flags end up in shell history and process listings.
const (
	// EnvKey holds the key itself, hex or base64 encoded.
	EnvKey = "ENGAGE_STORE_KEY"
	// EnvKeyFile holds the path of a file that holds the key (raw, hex or base64).
	EnvKeyFile = "ENGAGE_STORE_KEY_FILE"
)

// Options are the store's knobs. Start from DefaultOptions.
type Options struct {
	// SyncWrites makes every write method return only after its data is synced to
	// disk. Turning it off trades durability of the last writes for throughput.
	SyncWrites bool
	// EncryptionKey turns on badger's encryption at rest (AES, 16, 24 or 32 bytes).
	// Load it with LoadKeyFile or LoadKeyFromEnv. A store created with a key can
	// only be opened with the same key.
	EncryptionKey []byte
	// EncryptionKeyRotation is how often badger rotates the data keys that the
	// EncryptionKey wraps.
	EncryptionKeyRotation time.Duration
	// InMemory keeps everything in memory (dir is ignored); for tests.
	InMemory bool
	// MemTableSize bounds a memtable and, through badger's rule of 15%, the size of
	// one transaction; large event batches are split to fit (see the package doc).
	MemTableSize int64
	// ValueThreshold is the value size from which badger keeps a value in its
	// value log, leaving only a pointer in the LSM tree (key-value
	// separation). Decision audit records stored in badger (without the
	// journal; 1.5-4 KB of JSON, written once, never changed) are above it:
	// memtable flushes and compactions then move a 12-byte pointer instead of
	// the record, again and again. Accounts,
	// feature states (about 120 bytes), events and change-feed entries stay
	// below it: they are read on every cache miss and rewritten on every
	// event, and in the LSM tree they are read from one table block and leave
	// no garbage in the value log. Zero or less keeps badger's limit (every
	// value in the LSM tree); an in-memory store ignores it.
	ValueThreshold int64
	// BlockCacheSize is badger's cache of decompressed (and decrypted) blocks.
	BlockCacheSize int64
	// IndexCacheSize is badger's cache of table indices. With encryption it must
	// be non-zero; Open uses 64 MiB when it is zero.
	IndexCacheSize int64
	// NoJournal commits decision audit records straight into badger (one synced
	// badger commit per group) instead of into the journal (journal.go), which
	// then only serves the records it holds from earlier runs. The journal is
	// off for in-memory and encrypted stores: it would hold decisions in the
	// clear.
	NoJournal bool
	// JournalSegment is the size of the decision journal's segment files
	// (journal.go), written full of zeros before use: larger segments mean
	// fewer files, smaller ones less zero-writing at a time.
	JournalSegment int64
	// Logger receives badger's errors and warnings; nil means slog.Default().
	// Badger's informational chatter is logged at debug level.
	Logger *slog.Logger
}

// DefaultOptions returns durable settings for a server: synced writes, no
// encryption, badger's default memtable and caches.
func DefaultOptions() Options {
	return Options{
		SyncWrites:            true,
		EncryptionKeyRotation: 10 * 24 * time.Hour,
		MemTableSize:          64 << 20,
		ValueThreshold:        1 << 10,
		BlockCacheSize:        256 << 20,
		IndexCacheSize:        0,
		JournalSegment:        64 << 20,
	}
}

// defaultEncryptedIndexCache is the index cache used with encryption when none is
// configured: badger decrypts indices into this cache instead of keeping them in
// memory in the clear.
const defaultEncryptedIndexCache = 64 << 20

// ParseKey decodes an encryption key given as hex or standard/URL base64 text, or as
// raw bytes, and checks that it is 16, 24 or 32 bytes long. Text forms win: input
// that reads as hex or base64 of a valid length is decoded, so a raw key must be
// random bytes (head -c 32 /dev/urandom), not printable text.
func ParseKey(b []byte) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	try := func(k []byte) bool { return len(k) == 16 || len(k) == 24 || len(k) == 32 }
	if k, err := hex.DecodeString(s); err == nil && try(k) {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && try(k) {
			return k, nil
		}
	}
	if try(b) {
		return append([]byte(nil), b...), nil
	}
	return nil, fmt.Errorf("encryption key: want 16, 24 or 32 bytes (raw, hex or base64), got %d bytes of input", len(b))
}

// LoadKeyFile reads an encryption key from a file (raw, hex or base64). A key file
// readable by group or others is refused: the key protects the whole store.
func LoadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load encryption key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load encryption key %s: mode %v is readable by others; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load encryption key: %w", err)
	}
	k, err := ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("load encryption key %s: %w", path, err)
	}
	return k, nil
}

// LoadKeyFromEnv returns the key named by EnvKey or, failing that, read from the file
// named by EnvKeyFile. It returns nil and no error when neither is set, which means
// "no encryption".
func LoadKeyFromEnv() ([]byte, error) {
	if s := os.Getenv(EnvKey); s != "" {
		k, err := ParseKey([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, nil
	}
	if p := os.Getenv(EnvKeyFile); p != "" {
		k, err := LoadKeyFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeyFile, err)
		}
		return k, nil
	}
	return nil, nil
}

// logger returns the configured logger or slog.Default().
func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
