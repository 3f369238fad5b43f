package dev.ferry.admin;

import dev.ferry.support.Await;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class AdminTokenTest {

  private static HttpResponse<String> delete(FerryHarness ferry, long id, String authorization) throws Exception {
    HttpRequest.Builder req = HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + ferry.ferry().adminPort() + "/connections/" + id))
      .DELETE().timeout(Duration.ofSeconds(10));
    if (authorization != null) {
      req.header("Authorization", authorization);
    }
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
      .sendAsync(req.build(), HttpResponse.BodyHandlers.ofString()).get(20, java.util.concurrent.TimeUnit.SECONDS);
  }

  @Test
  void requiresTheBearerTokenToKillAConnectionWhenOneIsConfigured() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("admin.token", "s3cret"))) {
      Peer client = ferry.connect();
      client.write("k");
      client.readExactly(1);
      Await.until("the connection is registered", () -> ferry.metrics().connectionsOpen() == 1);
      long id = new JsonObject(ferry.admin("GET", "/connections").body())
        .getJsonArray("connections").getJsonObject(0).getLong("id");

      for (String bad : new String[] {null, "Bearer wrong", "Basic czNjcmV0", "Bearer "}) {
        HttpResponse<String> res = delete(ferry, id, bad);
        assertThat(res.statusCode()).as("Authorization: " + bad).isEqualTo(401);
        assertThat(res.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(new JsonObject(res.body()).getString("error")).isEqualTo("a valid bearer token is required");
      }
      assertThat(ferry.metrics().connectionsOpen()).isEqualTo(1);

      assertThat(delete(ferry, id, "Bearer s3cret").statusCode()).isEqualTo(202);
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.ADMIN_KILL, Side.PROXY);
      ferry.assertReleasedCleanly();
    }
  }
}
