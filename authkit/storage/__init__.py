"""The database: pymongo calls off the event loop with their errors as 503s, the embedded
MongoDB-protocol server `authkit serve` runs, and the record that lets commands share it."""
