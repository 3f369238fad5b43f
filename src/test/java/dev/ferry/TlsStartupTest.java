package dev.ferry;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ferry.support.Certificates;
import dev.ferry.support.Executables;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What only loading can tell about TLS files ends the start as a bad configuration does: status 2 and one line naming
 * the key. A splice: true that a TLS route only inherits is a warning, and the route runs.
 */
class TlsStartupTest {

  @TempDir
  Path dir;

  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private final Logger mainLogger = (Logger) LoggerFactory.getLogger(Main.class);
  private final Logger ferryLogger = (Logger) LoggerFactory.getLogger(Ferry.class);

  @BeforeEach
  void capture() {
    log.start();
    mainLogger.addAppender(log);
    ferryLogger.addAppender(log);
  }

  @AfterEach
  void release() {
    mainLogger.detachAppender(log);
    ferryLogger.detachAppender(log);
  }

  private Path config(Path cert, Path key) throws Exception {
    return Files.writeString(dir.resolve("ferry.yaml"), "listen: {host: 127.0.0.1, port: 0}\n"
      + "admin: {host: 127.0.0.1, port: 0}\necho: {port: 0}\ninstances: 1\n"
      + "tls: {mode: terminate, certificate: " + cert + ", key: " + key + "}\n");
  }

  private List<String> messages() {
    return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void aKeyThatIsNotPkcs8ExitsWithStatus2NamingTheKeyAndTheConversion() throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    Path sec1 = dir.resolve("sec1.key");
    Process p = new ProcessBuilder(Executables.require("openssl", "openssl").toString(), "ec", "-in",
      cert.key().toString(), "-out", sec1.toString()).redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0).isTrue();
    assertThat(Files.readString(sec1)).contains("BEGIN EC PRIVATE KEY");

    assertThat(Main.start(new String[] {"--config", config(cert.certificate(), sec1).toString()}, Map.of(),
      new Ferry[1])).isEqualTo(Main.EXIT_BAD_CONFIG);
    assertThat(messages()).contains("conn=- ferry: invalid configuration: tls.key: " + sec1 + " holds a \"BEGIN EC "
      + "PRIVATE KEY\" key, not PKCS#8 (\"BEGIN PRIVATE KEY\"): convert it with openssl pkcs8 -topk8 -nocrypt -in KEY "
      + "-out KEY.pk8 (cert-manager: privateKey.encoding: PKCS8)");
  }

  @Test
  void aKeyOfAnotherCertificateExitsWithStatus2() throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    Certificates other = Certificates.selfSigned(dir, "other.test");
    assertThat(Main.start(new String[] {"--config", config(cert.certificate(), other.key()).toString()}, Map.of(),
      new Ferry[1])).isEqualTo(Main.EXIT_BAD_CONFIG);
    assertThat(messages()).contains("conn=- ferry: invalid configuration: tls.key: " + other.key() + " is not the "
      + "private key of the first certificate in " + cert.certificate());
  }

  @Test
  void anInheritedSpliceIsAWarningOnATlsRouteWhichRelaysThroughBuffers() throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    Path file = Files.writeString(dir.resolve("routes.yaml"), "admin: {host: 127.0.0.1, port: 0}\n"
      + "echo: {port: 0}\ninstances: 1\nsplice: true\nroutes:\n"
      + "  - {name: plain, listen: {host: 127.0.0.1, port: 0}}\n"
      + "  - name: secure\n    listen: {host: 127.0.0.1, port: 0}\n"
      + "    tls: {mode: terminate, certificate: " + cert.certificate() + ", key: " + cert.key() + "}\n");
    Ferry[] running = new Ferry[1];
    assertThat(Main.start(new String[] {"--config", file.toString()}, Map.of(), running)).isZero();
    try {
      assertThat(messages()).anyMatch(m -> m.startsWith("conn=- route secure: splice: true (from the top level) "
        + "does not apply: its bytes pass through a TLS engine (tls.mode terminate)"));
    } finally {
      running[0].shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }
}
