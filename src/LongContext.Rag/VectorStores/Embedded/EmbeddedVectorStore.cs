using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;
using Microsoft.Data.Sqlite;

namespace LongContext.Rag.VectorStores.Embedded;

public sealed record EmbeddedStoreOptions
{
    /// <summary>Folder for rag.db and the ANN index files.</summary>
    public required string Directory { get; init; }

    /// <summary>Below this many chunks a corpus is searched exactly (every vector compared); at and above it through an HNSW index.</summary>
    public int ExactSearchBelow { get; init; } = 20_000;

    /// <summary>HNSW graph degree (USearch connectivity).</summary>
    public int Connectivity { get; init; } = 16;

    public int ExpansionAdd { get; init; } = 128;

    public int ExpansionSearch { get; init; } = 96;
}

/// <summary>
/// The embedded default: one SQLite file holds corpora, documents, chunks with their vectors, and
/// one contentless FTS5 index per corpus for BM25 (a search then touches only its own corpus's
/// postings, with no per-row filter, and deleting a corpus drops its index). Dense search is exact over the vectors in memory for small corpora and goes
/// through a persisted USearch HNSW index for large ones; the index is derived data, rebuilt from
/// SQLite whenever its file is missing or out of date, so SQLite alone decides what a corpus holds.
/// </summary>
public sealed class EmbeddedVectorStore : IVectorStore, IDisposable
{
    private readonly EmbeddedStoreOptions _options;
    private readonly string _connectionString;
    private readonly ConcurrentDictionary<string, Lazy<Task<DenseIndex>>> _indexes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TermFrequencies> _termFrequencies = new(StringComparer.Ordinal);

    private EmbeddedVectorStore(EmbeddedStoreOptions options, string connectionString) => (_options, _connectionString) = (options, connectionString);

    public static async Task<EmbeddedVectorStore> OpenAsync(EmbeddedStoreOptions options, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(Path.Combine(options.Directory, "indexes"));
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(options.Directory, "rag.db"),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 60,
        }.ToString();
        var store = new EmbeddedVectorStore(options, connectionString);
        await using var connection = await store.OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = """
            PRAGMA journal_mode = WAL;
            PRAGMA foreign_keys = ON;
            CREATE TABLE IF NOT EXISTS corpora (
                id          TEXT    PRIMARY KEY,
                tenant      TEXT    NOT NULL,
                name        TEXT    NOT NULL,
                created_at  INTEGER NOT NULL,
                tokenizer   TEXT    NOT NULL,
                dimensions  INTEGER NOT NULL,
                documents   INTEGER NOT NULL DEFAULT 0,
                chunks      INTEGER NOT NULL DEFAULT 0,
                tokens      INTEGER NOT NULL DEFAULT 0,
                bytes       INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX IF NOT EXISTS ix_corpora_tenant ON corpora (tenant, created_at);
            CREATE TABLE IF NOT EXISTS documents (
                corpus_id   TEXT    NOT NULL REFERENCES corpora (id) ON DELETE CASCADE,
                id          TEXT    NOT NULL,
                name        TEXT    NOT NULL,
                bytes       INTEGER NOT NULL,
                tokens      INTEGER NOT NULL,
                added_at    INTEGER NOT NULL,
                PRIMARY KEY (corpus_id, id)
            );
            CREATE TABLE IF NOT EXISTS chunks (
                key         INTEGER PRIMARY KEY,
                corpus_id   TEXT    NOT NULL REFERENCES corpora (id) ON DELETE CASCADE,
                document_id TEXT    NOT NULL,
                ordinal     INTEGER NOT NULL,
                start       INTEGER NOT NULL,
                end         INTEGER NOT NULL,
                tokens      INTEGER NOT NULL,
                text        TEXT    NOT NULL,
                vector      BLOB    NOT NULL
            );
            CREATE INDEX IF NOT EXISTS ix_chunks_corpus ON chunks (corpus_id, document_id, ordinal);
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
        await MigrateSharedKeywordIndexAsync(connection, cancellationToken);
        return store;
    }

    /// <summary>
    /// Stores written before keyword indexes were kept per corpus hold one FTS5 table for all of
    /// them; each corpus gets its own index from its chunks, and the shared one is dropped, in one
    /// transaction.
    /// </summary>
    private static async Task MigrateSharedKeywordIndexAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var exists = connection.CreateCommand();
        exists.Transaction = transaction;
        exists.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'chunks_fts'";
        if ((long)(await exists.ExecuteScalarAsync(cancellationToken))! == 0)
        {
            return;
        }

        var corpora = new List<string>();
        await using (var list = connection.CreateCommand())
        {
            list.Transaction = transaction;
            list.CommandText = "SELECT id FROM corpora";
            await using var reader = await list.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                corpora.Add(reader.GetString(0));
            }
        }

        foreach (var corpusId in corpora)
        {
            await CreateKeywordIndexAsync(connection, transaction, corpusId, cancellationToken);
            await using var fill = connection.CreateCommand();
            fill.Transaction = transaction;
            fill.CommandText = $"INSERT INTO {KeywordTable(corpusId)} (rowid, text) SELECT key, text FROM chunks WHERE corpus_id = $corpus";
            fill.Parameters.AddWithValue("$corpus", corpusId);
            await fill.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var drop = connection.CreateCommand();
        drop.Transaction = transaction;
        drop.CommandText = "DROP TABLE IF EXISTS chunks_vocab; DROP TABLE chunks_fts;";
        await drop.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The corpus's FTS5 table. Corpus ids are the store's own (vs_ + hex), checked again here because they become SQL names.</summary>
    private static string KeywordTable(string corpusId) =>
        corpusId.Length > 3 && corpusId.StartsWith("vs_", StringComparison.Ordinal) && !corpusId.AsSpan(3).ContainsAnyExcept(LowerHex)
            ? "fts_" + corpusId[3..]
            : throw new ArgumentException($"'{corpusId}' is not a corpus id of this store.", nameof(corpusId));

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    private static string KeywordVocabulary(string corpusId) => KeywordTable(corpusId) + "_vocab";

    private static async Task CreateKeywordIndexAsync(SqliteConnection connection, SqliteTransaction transaction, string corpusId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        // Contentless: the text lives in chunks; BM25 needs only the postings and the row sizes.
        command.CommandText = $"""
            CREATE VIRTUAL TABLE {KeywordTable(corpusId)} USING fts5 (text, content = '', tokenize = 'unicode61 remove_diacritics 2');
            CREATE VIRTUAL TABLE {KeywordVocabulary(corpusId)} USING fts5vocab ({KeywordTable(corpusId)}, 'row');
            """;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<CorpusInfo> CreateCorpusAsync(string tenantId, string name, string tokenizer, int dimensions, CancellationToken cancellationToken = default)
    {
        var id = "vs_" + Guid.CreateVersion7().ToString("N");
        var now = DateTimeOffset.UtcNow;
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "INSERT INTO corpora (id, tenant, name, created_at, tokenizer, dimensions) VALUES ($id, $tenant, $name, $created, $tokenizer, $dimensions)";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$created", now.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$tokenizer", tokenizer);
        command.Parameters.AddWithValue("$dimensions", dimensions);
        await command.ExecuteNonQueryAsync(cancellationToken);
        await CreateKeywordIndexAsync(connection, transaction, id, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new CorpusInfo(id, tenantId, name, DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()), tokenizer, dimensions, 0, 0, 0, 0);
    }

    public async Task<CorpusInfo?> GetCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        var corpora = await QueryCorporaAsync(connection, null, "c.tenant = $tenant AND c.id = $id", tenantId, corpusId, cancellationToken);
        return corpora.Count == 0 ? null : corpora[0];
    }

    public async Task<IReadOnlyList<CorpusInfo>> ListCorporaAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        return await QueryCorporaAsync(connection, null, "c.tenant = $tenant", tenantId, null, cancellationToken);
    }

    public async Task<bool> DeleteCorpusAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM corpora WHERE id = $id AND tenant = $tenant";
        command.Parameters.AddWithValue("$id", corpusId);
        command.Parameters.AddWithValue("$tenant", tenantId);
        var deleted = await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        if (deleted)
        {
            await using var drop = connection.CreateCommand();
            drop.Transaction = transaction;
            drop.CommandText = $"DROP TABLE IF EXISTS {KeywordVocabulary(corpusId)}; DROP TABLE IF EXISTS {KeywordTable(corpusId)};";
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        if (deleted)
        {
            Forget(corpusId);
            File.Delete(IndexPath(corpusId));
        }

        return deleted;
    }

    public async Task<CorpusInfo> AddDocumentsAsync(string tenantId, string corpusId, IReadOnlyList<IndexedDocument> documents, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using (var transaction = connection.BeginTransaction(deferred: false))
        {
            var corpus = (await QueryCorporaAsync(connection, transaction, "c.tenant = $tenant AND c.id = $id", tenantId, corpusId, cancellationToken)).SingleOrDefault()
                ?? throw new KeyNotFoundException($"Corpus {corpusId} does not exist.");

            await using var document = connection.CreateCommand();
            document.Transaction = transaction;
            document.CommandText = "INSERT INTO documents (corpus_id, id, name, bytes, tokens, added_at) VALUES ($corpus, $id, $name, $bytes, $tokens, $added)";
            var (dCorpus, dId, dName, dBytes, dTokens, dAdded) = (document.Parameters.Add("$corpus", SqliteType.Text), document.Parameters.Add("$id", SqliteType.Text), document.Parameters.Add("$name", SqliteType.Text), document.Parameters.Add("$bytes", SqliteType.Integer), document.Parameters.Add("$tokens", SqliteType.Integer), document.Parameters.Add("$added", SqliteType.Integer));

            await using var chunk = connection.CreateCommand();
            chunk.Transaction = transaction;
            chunk.CommandText = $"""
                INSERT INTO chunks (corpus_id, document_id, ordinal, start, end, tokens, text, vector) VALUES ($corpus, $document, $ordinal, $start, $end, $tokens, $text, $vector);
                INSERT INTO {KeywordTable(corpusId)} (rowid, text) VALUES (last_insert_rowid(), $text);
                """;
            var c = chunk.Parameters;
            var (cCorpus, cDocument, cOrdinal, cStart, cEnd, cTokens, cText, cVector) = (c.Add("$corpus", SqliteType.Text), c.Add("$document", SqliteType.Text), c.Add("$ordinal", SqliteType.Integer), c.Add("$start", SqliteType.Integer), c.Add("$end", SqliteType.Integer), c.Add("$tokens", SqliteType.Integer), c.Add("$text", SqliteType.Text), c.Add("$vector", SqliteType.Blob));

            foreach (var doc in documents)
            {
                (dCorpus.Value, dId.Value, dName.Value, dBytes.Value, dTokens.Value, dAdded.Value) = (corpusId, doc.Id, doc.Name, (long)System.Text.Encoding.UTF8.GetByteCount(doc.Text), doc.Tokens, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                try
                {
                    await document.ExecuteNonQueryAsync(cancellationToken);
                }
                catch (SqliteException e) when (e.SqliteExtendedErrorCode == 1555)
                {
                    throw new ArgumentException($"Document id '{doc.Id}' is already in corpus {corpusId}.", nameof(documents), e);
                }

                foreach (var piece in doc.Chunks)
                {
                    if (piece.Vector.Length != corpus.Dimensions)
                    {
                        throw new ArgumentException($"Chunk {piece.Ordinal} of document '{doc.Id}' has {piece.Vector.Length} dimensions; corpus {corpusId} holds {corpus.Dimensions}.", nameof(documents));
                    }

                    (cCorpus.Value, cDocument.Value, cOrdinal.Value, cStart.Value, cEnd.Value, cTokens.Value, cText.Value) = (corpusId, doc.Id, piece.Ordinal, piece.Start, piece.End, piece.Tokens, piece.Text);
                    cVector.Value = MemoryMarshal.AsBytes(piece.Vector.Span).ToArray();
                    await chunk.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            // The corpus row keeps its totals, so reading a corpus's size never scans its chunks.
            await using var totals = connection.CreateCommand();
            totals.Transaction = transaction;
            totals.CommandText = "UPDATE corpora SET documents = documents + $documents, chunks = chunks + $chunks, tokens = tokens + $tokens, bytes = bytes + $bytes WHERE id = $id";
            totals.Parameters.AddWithValue("$documents", documents.Count);
            totals.Parameters.AddWithValue("$chunks", documents.Sum(d => d.Chunks.Count));
            totals.Parameters.AddWithValue("$tokens", documents.Sum(d => (long)d.Tokens));
            totals.Parameters.AddWithValue("$bytes", documents.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d.Text)));
            totals.Parameters.AddWithValue("$id", corpusId);
            await totals.ExecuteNonQueryAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        Forget(corpusId);
        return (await GetCorpusAsync(tenantId, corpusId, cancellationToken))!;
    }

    public async Task<IReadOnlyList<ScoredChunk>> SearchDenseAsync(string tenantId, string corpusId, ReadOnlyMemory<float> query, int limit, CancellationToken cancellationToken = default)
    {
        var corpus = await RequireAsync(tenantId, corpusId, cancellationToken);
        if (corpus.ChunkCount == 0)
        {
            return [];
        }

        var index = await _indexes.GetOrAdd(corpusId, id => new Lazy<Task<DenseIndex>>(() => LoadIndexAsync(id, corpus))).Value;
        var hits = index.Search(query.Span, limit, _options.ExpansionSearch);
        var chunks = await ChunksByKeyAsync(corpusId, hits.Select(h => h.Key).ToList(), cancellationToken);
        return [.. hits.Where(h => chunks.ContainsKey(h.Key)).Select(h => new ScoredChunk(chunks[h.Key], h.Score))];
    }

    public async Task<IReadOnlyList<ScoredChunk>> SearchKeywordsAsync(string tenantId, string corpusId, string query, int limit, CancellationToken cancellationToken = default)
    {
        var corpus = await RequireAsync(tenantId, corpusId, cancellationToken);
        var terms = Retrieval.KeywordQuery.Terms(query);
        if (terms.Count == 0 || corpus.ChunkCount == 0)
        {
            return [];
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        terms = await SelectiveTermsAsync(connection, corpus, terms, cancellationToken);
        await using var command = connection.CreateCommand();
        var table = KeywordTable(corpusId);
        command.CommandText = $"SELECT rowid, bm25({table}) FROM {table} WHERE {table} MATCH $match ORDER BY bm25({table}) LIMIT $limit";
        // Each word quoted: the user's text is never read as FTS5 query syntax.
        command.Parameters.AddWithValue("$match", string.Join(" OR ", terms.Select(t => "\"" + t.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"")));
        command.Parameters.AddWithValue("$limit", limit);
        var hits = new List<(long Key, double Score)>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                // FTS5's bm25() is negated (lower is better); report the usual positive score.
                hits.Add((reader.GetInt64(0), -reader.GetDouble(1)));
            }
        }

        var chunks = await ChunksByKeyAsync(corpusId, hits.Select(h => h.Key).ToList(), cancellationToken);
        return [.. hits.Where(h => chunks.ContainsKey(h.Key)).Select(h => new ScoredChunk(chunks[h.Key], h.Score))];
    }

    /// <summary>
    /// FTS5 scores every row that matches any term, so a term found in a large share of the corpus's
    /// chunks costs a scan while adding little to BM25. Such terms are left out; the rarest term is
    /// always kept.
    /// </summary>
    private async Task<IReadOnlyList<string>> SelectiveTermsAsync(SqliteConnection connection, CorpusInfo corpus, IReadOnlyList<string> terms, CancellationToken cancellationToken)
    {
        // fts5vocab counts a term's chunks by walking its postings, which for a common term costs
        // milliseconds; the counts are kept per corpus until the corpus changes size (which any
        // ingestion does, in this process or another sharing the file).
        var known = _termFrequencies.AddOrUpdate(
            corpus.Id,
            _ => new TermFrequencies(corpus.ChunkCount),
            (_, cached) => cached.ChunkCount == corpus.ChunkCount && cached.Documents.Count < TermFrequencies.Capacity ? cached : new TermFrequencies(corpus.ChunkCount));
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT doc FROM {KeywordVocabulary(corpus.Id)} WHERE term = $term";
        var term = command.Parameters.Add("$term", SqliteType.Text);
        var frequencies = new List<(string Term, long Documents)>();
        foreach (var candidate in terms)
        {
            if (!known.Documents.TryGetValue(candidate, out var documents))
            {
                // One lookup per term: fts5vocab answers `term = ?` from the index but scans the whole vocabulary for `term IN (...)`.
                term.Value = candidate;
                documents = await command.ExecuteScalarAsync(cancellationToken) as long? ?? 0;
                known.Documents[candidate] = documents;
            }

            if (documents > 0)
            {
                frequencies.Add((candidate, documents));
            }
        }

        if (frequencies.Count == 0)
        {
            return terms;
        }

        var ceiling = Math.Max(CommonTermFloor, corpus.ChunkCount * CommonTermShare);
        var selective = frequencies.Where(f => f.Documents <= ceiling).Select(f => f.Term).ToList();
        return selective.Count > 0 ? selective : [frequencies.MinBy(f => f.Documents).Term];
    }

    /// <summary>How many of a corpus's chunks hold each term, valid while the corpus has ChunkCount chunks.</summary>
    private sealed record TermFrequencies(int ChunkCount)
    {
        public const int Capacity = 100_000;

        public ConcurrentDictionary<string, long> Documents { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>A term in more than this share of a corpus's chunks (and more than CommonTermFloor of them) is too common to search for.</summary>
    private const double CommonTermShare = 0.02;

    private const long CommonTermFloor = 500;

    public async Task<IReadOnlyList<StoredChunk>> GetChunksAsync(string tenantId, string corpusId, CancellationToken cancellationToken = default)
    {
        await RequireAsync(tenantId, corpusId, cancellationToken);
        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"{ChunkSelect} WHERE c.corpus_id = $corpus ORDER BY d.added_at, c.document_id, c.ordinal";
        command.Parameters.AddWithValue("$corpus", corpusId);
        return await ReadChunksAsync(command, cancellationToken);
    }

    public void Dispose()
    {
        foreach (var index in _indexes.Values.Where(i => i.IsValueCreated && i.Value.IsCompletedSuccessfully))
        {
            index.Value.Result.Dispose();
        }

        _indexes.Clear();
    }

    private const string ChunkSelect = "SELECT c.key, c.document_id, d.name, c.ordinal, c.start, c.end, c.tokens, c.text FROM chunks c JOIN documents d ON d.corpus_id = c.corpus_id AND d.id = c.document_id";

    private async Task<CorpusInfo> RequireAsync(string tenantId, string corpusId, CancellationToken cancellationToken) =>
        await GetCorpusAsync(tenantId, corpusId, cancellationToken) ?? throw new KeyNotFoundException($"Corpus {corpusId} does not exist.");

    private void Forget(string corpusId)
    {
        _termFrequencies.TryRemove(corpusId, out _);
        if (_indexes.TryRemove(corpusId, out var stale) && stale.IsValueCreated && stale.Value.IsCompletedSuccessfully)
        {
            stale.Value.Result.Dispose();
        }
    }

    private string IndexPath(string corpusId) => Path.Combine(_options.Directory, "indexes", corpusId + ".usearch");

    /// <summary>Reads the corpus's vectors; a large corpus gets its HNSW index from file when the file matches SQLite, else rebuilt and saved.</summary>
    private async Task<DenseIndex> LoadIndexAsync(string corpusId, CorpusInfo corpus)
    {
        await using var connection = await OpenConnectionAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT key, vector FROM chunks WHERE corpus_id = $corpus ORDER BY key";
        command.Parameters.AddWithValue("$corpus", corpusId);
        var keys = new List<long>(corpus.ChunkCount);
        var vectors = new float[corpus.ChunkCount * corpus.Dimensions];
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var bytes = (byte[])reader.GetValue(1);
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(vectors.AsSpan(keys.Count * corpus.Dimensions, corpus.Dimensions));
                keys.Add(reader.GetInt64(0));
            }
        }

        if (keys.Count < _options.ExactSearchBelow)
        {
            return new DenseIndex([.. keys], vectors, corpus.Dimensions, null);
        }

        var path = IndexPath(corpusId);
        if (File.Exists(path))
        {
            var loaded = new USearchIndex(path, false);
            if ((long)loaded.Size() == keys.Count && keys.All(k => loaded.Contains((ulong)k)))
            {
                return new DenseIndex([.. keys], vectors, corpus.Dimensions, loaded);
            }

            loaded.Dispose();
        }

        var index = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, (ulong)corpus.Dimensions, (ulong)_options.Connectivity, (ulong)_options.ExpansionAdd, (ulong)_options.ExpansionSearch, false);
        for (var i = 0; i < keys.Count; i++)
        {
            index.Add((ulong)keys[i], vectors.AsSpan(i * corpus.Dimensions, corpus.Dimensions).ToArray());
        }

        // Write beside, then rename: a crash mid-save leaves the old file or none, never half of one.
        var temporary = path + ".tmp";
        index.Save(temporary);
        File.Move(temporary, path, overwrite: true);
        return new DenseIndex([.. keys], vectors, corpus.Dimensions, index);
    }

    private async Task<Dictionary<long, StoredChunk>> ChunksByKeyAsync(string corpusId, List<long> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenConnectionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Unary + keeps SQLite from walking the corpus index: the keys are the selective part.
        command.CommandText = $"{ChunkSelect} WHERE +c.corpus_id = $corpus AND c.key IN (SELECT value FROM json_each($keys))";
        command.Parameters.AddWithValue("$corpus", corpusId);
        command.Parameters.AddWithValue("$keys", "[" + string.Join(',', keys) + "]");
        return (await ReadChunksAsync(command, cancellationToken)).ToDictionary(c => c.Key);
    }

    private static async Task<List<StoredChunk>> ReadChunksAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var chunks = new List<StoredChunk>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            chunks.Add(new StoredChunk(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetString(7)));
        }

        return chunks;
    }

    private static async Task<List<CorpusInfo>> QueryCorporaAsync(SqliteConnection connection, SqliteTransaction? transaction, string where, string tenantId, string? corpusId, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"""
            SELECT c.id, c.tenant, c.name, c.created_at, c.tokenizer, c.dimensions, c.documents, c.chunks, c.tokens, c.bytes
            FROM corpora c WHERE {where} ORDER BY c.created_at DESC, c.id DESC
            """;
        command.Parameters.AddWithValue("$tenant", tenantId);
        command.Parameters.AddWithValue("$id", (object?)corpusId ?? DBNull.Value);
        var corpora = new List<CorpusInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            corpora.Add(new CorpusInfo(reader.GetString(0), reader.GetString(1), reader.GetString(2), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetInt64(8), reader.GetInt64(9)));
        }

        return corpora;
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys = ON";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }
}
