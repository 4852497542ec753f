using LongContext.Gateway.Accounting;
using Microsoft.AspNetCore.Http;

namespace LongContext.Gateway.Tests;

public sealed class MeteredResponseTests
{
    [Theory]
    [InlineData(false, null)]
    [InlineData(true, "0.25")]
    public async Task EndedUnsettled_ItCommitsTheWorstCaseOnlyWhenPartOfTheAnswerWentOut_AndPutsTheBodyBack(bool answerStarted, string? expected)
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        context.Response.ContentType = "application/json";
        var settlements = new List<decimal?>();

        await using (var metered = new MeteredResponse(context.Response, dropUsageOnlyChunk: false, spentIfAnswered: 0.25m, actual => { settlements.Add(actual); return Task.CompletedTask; }))
        {
            Assert.Same(metered.Meter, context.Response.Body);
            if (answerStarted)
            {
                await context.Response.Body.WriteAsync("{\"id\":"u8.ToArray());
            }
        }

        Assert.Same(body, context.Response.Body);
        Assert.Equal([expected is null ? null : decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture)], settlements);
    }

    [Fact]
    public async Task Settled_ItLeavesTheReservationAlone()
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        var settlements = 0;

        await using (var metered = new MeteredResponse(context.Response, dropUsageOnlyChunk: false, spentIfAnswered: 1m, _ => { settlements++; return Task.CompletedTask; }))
        {
            metered.MarkSettled();
        }

        Assert.Equal(0, settlements);
        Assert.Same(body, context.Response.Body);
    }
}
