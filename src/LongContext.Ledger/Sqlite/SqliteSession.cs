using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// One connection with its statements kept compiled: the ledger runs the same few statements on
/// every request, and compiling their SQL each time cost more than running them.
/// </summary>
internal sealed class SqliteSession(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteStatement> _statements = new(StringComparer.Ordinal);

    public SqliteConnection Connection => connection;

    /// <summary>The compiled statement for <paramref name="sql"/>, rewound with nothing bound. Not to be disposed by the caller.</summary>
    public SqliteStatement Statement(string sql)
    {
        if (!_statements.TryGetValue(sql, out var statement))
        {
            statement = new SqliteStatement(connection, sql);
            _statements[sql] = statement;
        }

        return statement.Reset();
    }

    /// <summary>Closes the connection (it is opened again before the next use), dropping its statements first.</summary>
    public void Close()
    {
        DropStatements();
        connection.Close();
    }

    private void DropStatements()
    {
        foreach (var statement in _statements.Values)
        {
            statement.Dispose();
        }

        _statements.Clear();
    }

    public void Dispose()
    {
        DropStatements();
        connection.Dispose();
    }
}

/// <summary>
/// Open sessions for reads, handed out one caller at a time and kept for the next. A read runs on
/// the caller's thread (SQLite answers from the page cache; its asynchronous methods would be
/// synchronous underneath too).
/// </summary>
internal sealed class SqliteSessionPool(string connectionString) : IDisposable
{
    private const int Kept = 16;
    private readonly ConcurrentBag<SqliteSession> _idle = [];

    public T Read<T>(Func<SqliteSession, T> read)
    {
        if (!_idle.TryTake(out var session))
        {
            var connection = new SqliteConnection(connectionString);
            connection.Open();
            session = new SqliteSession(connection);
        }

        var healthy = false;
        try
        {
            var result = read(session);
            healthy = true;
            return result;
        }
        finally
        {
            if (healthy && _idle.Count < Kept)
            {
                _idle.Add(session);
            }
            else
            {
                session.Dispose();
            }
        }
    }

    public void Dispose()
    {
        while (_idle.TryTake(out var session))
        {
            session.Dispose();
        }
    }
}
