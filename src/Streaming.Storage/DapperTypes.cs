using System.Data;
using Dapper;

namespace Streaming.Storage;

/// <summary>
/// Dapper's mapping for the PostgreSQL types our row records use. Npgsql hands <c>timestamptz</c> to Dapper as a UTC
/// <see cref="DateTime"/>; records carry <see cref="DateTimeOffset"/>, so a handler converts (offset zero both ways).
/// </summary>
internal static class DapperTypes
{
    private static int _registered;

    /// <summary>Registers the handlers once per process; every type that queries through Dapper calls it before its first query.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            SqlMapper.AddTypeHandler(new UtcDateTimeOffsetHandler());
    }

    private sealed class UtcDateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTime { Kind: DateTimeKind.Utc } utc => new DateTimeOffset(utc),
            DateTimeOffset offset => offset,
            _ => throw new DataException($"Expected a timestamptz (UTC DateTime) value, got {value.GetType().Name}."),
        };

        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value) => parameter.Value = value.ToUniversalTime();
    }
}
