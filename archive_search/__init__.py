"""Archive search, the domain service: the archive as auditors and staff search it.

It sits between the system of record (``archive``) and the search library (``search``): ``indexing`` says what an
application looks like to search and keeps the index in step with the database; ``queries`` runs a search within
the searcher's scope, exports it and opens a record, writing each as an audit event. It was once part of ``intake``,
whose concept is the one-stop window's intake; registration never needs search, so ``intake`` does not import this
package (the commit hook that queues indexing is installed by ``worker.dispatch``).
"""
