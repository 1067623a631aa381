namespace Streaming.IntegrationTests;
