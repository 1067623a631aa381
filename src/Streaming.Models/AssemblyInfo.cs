namespace Streaming.Models;
