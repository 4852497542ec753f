using LongContext.Ledger.Sqlite;
using Microsoft.Data.Sqlite;

namespace LongContext.Ledger.Tests;

public sealed class SqliteStatementTests : IDisposable
{
    private readonly SqliteConnection _connection = new("Data Source=:memory:");

    public SqliteStatementTests()
    {
        _connection.Open();
        using var create = _connection.CreateCommand();
        create.CommandText = "CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, x REAL, flag INTEGER, note TEXT)";
        create.ExecuteNonQuery();
    }

    [Fact]
    public void ValuesBoundByName_ArriveAsTheirTypes_AndTextOfAnyLengthAndScriptRoundTrips()
    {
        using var insert = new SqliteStatement(_connection, "INSERT INTO t (id, n, x, flag, note) VALUES ($id, $n, $x, $flag, $note)");
        var id = Guid.CreateVersion7();
        var note = string.Concat(Enumerable.Repeat("grüße, 東京 🚀 ", 200));
        Assert.Equal(1, insert.Bind("$id", id).Bind("$n", 42L).Bind("$x", 0.25).Bind("$flag", true).Bind("$note", note).Execute());
        Assert.Equal(1, insert.Reset().Bind("$id", "second").Bind("$n", (long?)null).Bind("$x", (double?)null).Bind("$flag", (bool?)null).Bind("$note", (string?)null).Execute());

        using var read = _connection.CreateCommand();
        read.CommandText = "SELECT id, n, x, flag, note, typeof(n), typeof(x), typeof(note) FROM t ORDER BY rowid";
        using var reader = read.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal((id.ToString(), 42L, 0.25, 1L, note), (reader.GetString(0), reader.GetInt64(1), reader.GetDouble(2), reader.GetInt64(3), reader.GetString(4)));
        Assert.True(reader.Read());
        Assert.Equal(("second", "null", "null", "null"), (reader.GetString(0), reader.GetString(5), reader.GetString(6), reader.GetString(7)));
    }

    [Fact]
    public void ABrokenConstraint_IsASqliteExceptionWithItsCode_AndTheStatementRunsAgainAfterIt()
    {
        using var insert = new SqliteStatement(_connection, "INSERT INTO t (id, n) VALUES ($id, $n)");
        insert.Bind("$id", "a").Bind("$n", 1L).Execute();

        var error = Assert.Throws<SqliteException>(() => insert.Reset().Bind("$id", "a").Bind("$n", 2L).Execute());
        Assert.Equal(SQLitePCL.raw.SQLITE_CONSTRAINT, error.SqliteErrorCode);
        Assert.Contains("UNIQUE", error.Message, StringComparison.Ordinal);

        Assert.Equal(1, insert.Reset().Bind("$id", "b").Bind("$n", 3L).Execute());
    }

    [Fact]
    public void RowsAreRead_AndAStatementLeftMidRun_IsRewoundByReset()
    {
        using (var insert = new SqliteStatement(_connection, "INSERT INTO t (id, n) VALUES ($id, $n)"))
        {
            foreach (var (id, n) in new[] { ("a", 1L), ("b", 2L), ("c", 3L) })
            {
                insert.Reset().Bind("$id", id).Bind("$n", n).Execute();
            }
        }

        using var select = new SqliteStatement(_connection, "SELECT n FROM t WHERE n >= $min ORDER BY n");
        select.Bind("$min", 2L);
        Assert.True(select.Read());
        Assert.Equal(2, select.GetInt64(0));

        // Rewound mid-run: the next run starts from the first row again, with its own binding.
        select.Reset().Bind("$min", 1L);
        var seen = new List<long>();
        while (select.Read())
        {
            seen.Add(select.GetInt64(0));
        }

        Assert.Equal([1L, 2L, 3L], seen);
    }

    [Fact]
    public void UnknownParameters_AndSeveralStatements_AreRefusedClearly()
    {
        using var insert = new SqliteStatement(_connection, "INSERT INTO t (id) VALUES ($id)");
        Assert.Contains("$nope", Assert.Throws<ArgumentException>(() => insert.Bind("$nope", 1L)).Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => new SqliteStatement(_connection, "SELECT 1; SELECT 2"));
        Assert.Throws<SqliteException>(() => new SqliteStatement(_connection, "SELECT * FROM missing"));
    }

    [Fact]
    public void AStatementThatReturnsRows_IsNotRunAsIfItChangedRows()
    {
        using var select = new SqliteStatement(_connection, "SELECT 1");
        Assert.Throws<InvalidOperationException>(() => select.Execute());
    }

    public void Dispose() => _connection.Dispose();
}
