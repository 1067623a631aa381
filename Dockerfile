# Multi-stage build of the `streaming` executable. librdkafka comes from the librdkafka.redist NuGet package in the
# publish output (no system package); the image runs as a non-root user. curl serves the compose health checks
# (GET /health/ready).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Streaming.Host -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /app streaming
WORKDIR /app
COPY --from=build /app .
USER streaming
# /metrics, /health/* and the API (Http:Port); bound to loopback unless Http__Expose=true.
EXPOSE 8080
ENTRYPOINT ["dotnet", "streaming.dll"]
CMD ["--help"]
