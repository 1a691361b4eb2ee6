-- Works cited by indexed eprints, as extracted from their documents.
CREATE TABLE citations (
    eprint_uri TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('doi', 'arxiv', 'url', 'reference')),
    value      TEXT NOT NULL,
    raw        TEXT NOT NULL,
    entry      INTEGER,
    -- the indexed eprint this citation names (by DOI or arXiv id), when there is one
    cited_uri  TEXT,
    PRIMARY KEY (eprint_uri, kind, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX citations_cited ON citations (cited_uri) WHERE cited_uri IS NOT NULL;
CREATE INDEX citations_value ON citations (kind, value);

-- Which version (CID) of each eprint was extracted, and how it went: "not yet extracted" is one anti-join.
CREATE TABLE citation_extractions (
    eprint_uri   TEXT PRIMARY KEY,
    cid          TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    citations    INTEGER NOT NULL DEFAULT 0,
    error        TEXT,
    extracted_at TEXT NOT NULL
) STRICT;

-- Resolving a citation to an indexed eprint by its DOI or arXiv id must not scan every record.
CREATE INDEX records_eprint_doi ON records (lower(json_extract(value, '$.publishedVersion.doi')))
    WHERE collection = 'pub.chive.eprint.submission';
CREATE INDEX records_eprint_arxiv ON records (lower(json_extract(value, '$.externalIds.arxivId')))
    WHERE collection = 'pub.chive.eprint.submission';
