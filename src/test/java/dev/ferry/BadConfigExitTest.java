package dev.ferry;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every bad configuration of the config table, through the command line: exit status 2 and one message. */
class BadConfigExitTest {

  @TempDir
  Path dir;

  private final ListAppender<ILoggingEvent> log = new ListAppender<>();
  private final Logger mainLogger = (Logger) LoggerFactory.getLogger(Main.class);

  @BeforeEach
  void capture() {
    log.start();
    mainLogger.addAppender(log);
  }

  @AfterEach
  void release() {
    mainLogger.detachAppender(log);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("dev.ferry.config.BadConfigTest#badConfigurations")
  void exitsWithStatus2AndOneMessageNamingTheKey(String description, String yaml, String message) throws Exception {
    Path file = dir.resolve("ferry.yaml");
    if (yaml != null) {
      Files.writeString(file, yaml.replace("$FILE", file.toString()));
    }
    Ferry[] running = new Ferry[1];

    assertThat(Main.start(new String[] {"--config", file.toString()}, Map.of(), running)).isEqualTo(2);

    assertThat(running[0]).isNull();
    assertThat(log.list).extracting(ILoggingEvent::getFormattedMessage)
      .containsExactly("conn=- ferry: invalid configuration: " + message.replace("$FILE", file.toString()));
  }
}
