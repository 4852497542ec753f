using LongContext.Gateway.Configuration;
using LongContext.Gateway.Proxy;
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
        v1.MapPost("/embeddings", EmbeddingsAsync);
        v1.MapGet("/models", ListModels);
        v1.MapGet("/models/{id}", GetModel);
        return app;
    }

    private static async Task<IResult> ChatCompletionsAsync(HttpContext context, JsonBodyReader reader, ModelCatalog catalog, UpstreamForwarder forwarder)
    {
        var (body, error) = await reader.ReadObjectAsync(context.Request, context.RequestAborted);
        if (error is not null)
        {
            return error;
        }

        var (request, invalid) = ChatCompletionRequest.Parse(body!);
        if (invalid is not null)
        {
            return invalid;
        }

        var model = catalog.Find(context.GetTenant(), request!.Model);
        if (model is null)
        {
            return OpenAiErrors.ModelNotFound(request.Model);
        }

        if (model.Kind != ModelKind.Chat)
        {
            return OpenAiErrors.WrongModelKind(request.Model, "a chat");
        }

        await forwarder.ForwardAsync(context, model, "chat/completions", request.Body);
        return Results.Empty;
    }

    private static async Task<IResult> EmbeddingsAsync(HttpContext context, JsonBodyReader reader, ModelCatalog catalog, UpstreamForwarder forwarder)
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

        await forwarder.ForwardAsync(context, model, "embeddings", request.Body);
        return Results.Empty;
    }

    private static Ok<ModelList> ListModels(HttpContext context, ModelCatalog catalog) =>
        TypedResults.Ok(new ModelList([.. catalog.VisibleTo(context.GetTenant()).Select(model => ToInfo(model, catalog))]));

    private static Results<Ok<ModelInfo>, OpenAiErrorResult> GetModel(string id, HttpContext context, ModelCatalog catalog) =>
        catalog.Find(context.GetTenant(), id) is { } model
            ? TypedResults.Ok(ToInfo(model, catalog))
            : OpenAiErrors.ModelNotFound(id);

    private static ModelInfo ToInfo(ResolvedModel model, ModelCatalog catalog) =>
        new(model.Alias, model.OwnedBy, catalog.LoadedAt.ToUnixTimeSeconds());
}
