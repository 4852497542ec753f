using LongContext.Gateway.Configuration;
using LongContext.Gateway.Corpora;
using LongContext.Gateway.Proxy;
using LongContext.Gateway.Routing;
using LongContext.Gateway.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LongContext.Gateway.Api;

/// <summary>The OpenAI-compatible surface under /v1.</summary>
internal static class OpenAiApi
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter<TenantAuthenticationFilter>();
        v1.MapPost("/chat/completions", ChatCompletionsAsync);
        v1.MapPost("/route", RouteAsync);
        v1.MapPost("/embeddings", EmbeddingsAsync);
        v1.MapGet("/models", ListModels);
        v1.MapGet("/models/{id}", GetModel);
        v1.MapCorporaApi();
        return app;
    }

    private static async Task<IResult> ChatCompletionsAsync(HttpContext context, JsonBodyReader reader, RoutedChat chat)
    {
        var (request, error) = await ReadChatAsync(context, reader);
        return error ?? await chat.HandleAsync(context, request!);
    }

    /// <summary>Dry run: the decision a chat request would get, with every candidate; nothing is forwarded, reserved or logged.</summary>
    private static async Task<IResult> RouteAsync(HttpContext context, JsonBodyReader reader, RoutedChat chat)
    {
        var (request, error) = await ReadChatAsync(context, reader);
        if (error is not null)
        {
            return error;
        }

        var (plan, invalid) = await chat.DecideAsync(context, request!);
        return invalid is not null ? invalid : TypedResults.Json(RouteDecisionView.From(plan!, id: null), GatewayJsonContext.Relaxed.RouteDecisionView);
    }

    private static async Task<(ChatCompletionRequest? Request, OpenAiErrorResult? Error)> ReadChatAsync(HttpContext context, JsonBodyReader reader)
    {
        var (body, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
        return error is not null ? (null, error) : ChatCompletionRequest.Parse(body!);
    }

    private static async Task<IResult> EmbeddingsAsync(HttpContext context, JsonBodyReader reader, ModelCatalog catalog, MeteredEmbeddings embeddings)
    {
        var (body, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
        if (error is not null)
        {
            return error;
        }

        var (request, invalid) = EmbeddingsRequest.Parse(body!);
        if (invalid is not null)
        {
            return invalid;
        }

        var model = catalog.Find(context.GetTenant(), request!.Model);
        if (model is null)
        {
            return OpenAiErrors.ModelNotFound(request.Model);
        }

        if (model.Kind != ModelKind.Embeddings)
        {
            return OpenAiErrors.WrongModelKind(request.Model, "an embeddings");
        }

        return model.Cluster.UnavailableBecause is { } reason
            ? OpenAiErrors.ModelUnavailable(model.Alias, reason)
            : await embeddings.HandleAsync(context, request, model);
    }

    /// <summary>The models the tenant can call now, and the auto model that lets routing choose among them.</summary>
    private static Ok<ModelList> ListModels(HttpContext context, ModelCatalog catalog, RoutingCatalog routing) =>
        TypedResults.Ok(new ModelList([
            new ModelInfo(routing.Settings.AutoModel, "longcontext-gateway", catalog.LoadedAt.ToUnixTimeSeconds()),
            .. catalog.AvailableTo(context.GetTenant()).Select(model => ToInfo(model, catalog))]));

    private static Results<Ok<ModelInfo>, OpenAiErrorResult> GetModel(string id, HttpContext context, ModelCatalog catalog, RoutingCatalog routing) =>
        routing.IsAuto(id)
            ? TypedResults.Ok(new ModelInfo(routing.Settings.AutoModel, "longcontext-gateway", catalog.LoadedAt.ToUnixTimeSeconds()))
            : catalog.Find(context.GetTenant(), id) is { Cluster.UnavailableBecause: null } model
                ? TypedResults.Ok(ToInfo(model, catalog))
                : OpenAiErrors.ModelNotFound(id);

    private static ModelInfo ToInfo(ResolvedModel model, ModelCatalog catalog) =>
        new(model.Alias, model.OwnedBy, catalog.LoadedAt.ToUnixTimeSeconds());
}
