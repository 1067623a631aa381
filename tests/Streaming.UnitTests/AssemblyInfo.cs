namespace Streaming.UnitTests;
