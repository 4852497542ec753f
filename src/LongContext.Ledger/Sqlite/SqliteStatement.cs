using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// One SQL statement compiled once on a connection and run again and again: values are bound by
/// parameter position (looked up by name once, when it was compiled) and strings go to SQLite as
/// UTF-8 straight from the caller's chars. <see cref="SqliteCommand"/> looks every parameter up by
/// name and wraps every run in a data reader, which on the ledger's few statements per request
/// cost more than SQLite's own work. Errors are <see cref="SqliteException"/>s with SQLite's codes,
/// as from <see cref="SqliteCommand"/>. One thread at a time, like the connection it belongs to.
/// </summary>
internal sealed class SqliteStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;
    private readonly Dictionary<string, int> _parameters = new(StringComparer.Ordinal);
    private byte[] _utf8 = new byte[256];

    public SqliteStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        Check(raw.sqlite3_prepare_v3(_db, sql, raw.SQLITE_PREPARE_PERSISTENT, out _statement, out var tail));
        if (!string.IsNullOrWhiteSpace(tail))
        {
            _statement.Dispose();
            throw new ArgumentException("One statement at a time: SQL follows the first statement.", nameof(sql));
        }

        for (var i = 1; i <= raw.sqlite3_bind_parameter_count(_statement); i++)
        {
            _parameters[raw.sqlite3_bind_parameter_name(_statement, i).utf8_to_string()] = i;
        }
    }

    public SqliteStatement Bind(string name, long value)
    {
        Check(raw.sqlite3_bind_int64(_statement, Index(name), value));
        return this;
    }

    public SqliteStatement Bind(string name, long? value) => value is { } v ? Bind(name, v) : BindNull(name);

    public SqliteStatement Bind(string name, double? value)
    {
        Check(value is { } v ? raw.sqlite3_bind_double(_statement, Index(name), v) : raw.sqlite3_bind_null(_statement, Index(name)));
        return this;
    }

    public SqliteStatement Bind(string name, bool? value) => value is { } v ? Bind(name, v ? 1L : 0L) : BindNull(name);

    /// <summary>Binds text (null binds NULL). SQLite copies it, so the buffer is reused for the next one.</summary>
    public SqliteStatement Bind(string name, string? value)
    {
        if (value is null)
        {
            return BindNull(name);
        }

        var length = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_utf8.Length < length)
        {
            _utf8 = new byte[Math.Max(length, _utf8.Length * 2)];
        }

        var written = Encoding.UTF8.GetBytes(value, _utf8);
        Check(raw.sqlite3_bind_text(_statement, Index(name), _utf8.AsSpan(0, written)));
        return this;
    }

    public SqliteStatement Bind(string name, Guid? value) => Bind(name, value?.ToString());

    public SqliteStatement BindNull(string name)
    {
        Check(raw.sqlite3_bind_null(_statement, Index(name)));
        return this;
    }

    /// <summary>Runs a statement that returns no rows; the number of rows it changed.</summary>
    public int Execute()
    {
        try
        {
            var rc = raw.sqlite3_step(_statement);
            if (rc == raw.SQLITE_ROW)
            {
                throw new InvalidOperationException("The statement returned rows: read them with Read.");
            }

            Check(rc);
            return raw.sqlite3_changes(_db);
        }
        finally
        {
            Reset();
        }
    }

    /// <summary>Steps to the next row: false when there is none. <see cref="Reset"/> (or the next use) ends the run.</summary>
    public bool Read()
    {
        var rc = raw.sqlite3_step(_statement);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        Check(rc);
        return false;
    }

    public long GetInt64(int column) => raw.sqlite3_column_int64(_statement, column);

    /// <summary>Clears the bindings and rewinds the statement for its next run.</summary>
    public SqliteStatement Reset()
    {
        raw.sqlite3_reset(_statement);
        raw.sqlite3_clear_bindings(_statement);
        return this;
    }

    private int Index(string name) =>
        _parameters.TryGetValue(name, out var index)
            ? index
            : throw new ArgumentException($"The statement has no parameter {name}.", nameof(name));

    private void Check(int rc)
    {
        if (rc is not (raw.SQLITE_OK or raw.SQLITE_DONE or raw.SQLITE_ROW))
        {
            throw new SqliteException(raw.sqlite3_errmsg(_db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(_db));
        }
    }

    public void Dispose() => _statement.Dispose();
}
