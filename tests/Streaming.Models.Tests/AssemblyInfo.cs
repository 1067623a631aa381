namespace Streaming.Models.Tests;
