using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Sqlite;

/// <summary>
/// One open connection with its statements kept prepared: the ledger runs the same few statements
/// on every request, and compiling their SQL each time cost more than running them.
/// </summary>
internal sealed class SqliteSession(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    public SqliteConnection Connection => connection;

    /// <summary>The transaction the session's commands run in (the writer's batch), or null.</summary>
    public SqliteTransaction? Transaction { get; set; }

    /// <summary>The prepared command for <paramref name="sql"/>, its parameters cleared, in the current transaction. Not to be disposed by the caller.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }

        command.Transaction = Transaction;
        command.Parameters.Clear();
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

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
