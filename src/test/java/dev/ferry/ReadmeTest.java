package dev.ferry;

import dev.ferry.config.EnvOverrides;
import dev.ferry.metrics.MetricNames;
import dev.ferry.vocabulary.CloseReason;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The README states facts the code decides: the env mapping, the metric names, the close reasons. */
class ReadmeTest {

  private static final String README = read();

  private static String read() {
    try {
      return Files.readString(Path.of("README.md"));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void listsExactlyTheEnvironmentVariablesFerryReads() {
    Map<String, String> documented = new LinkedHashMap<>();
    Matcher m = Pattern.compile("(?m)^\\| `(FERRY_[A-Z_]+)` \\| `([a-z.\\-]+)` \\|").matcher(README);
    while (m.find()) {
      documented.put(m.group(1), m.group(2));
    }
    assertThat(documented).containsExactlyInAnyOrderEntriesOf(EnvOverrides.VARIABLES);
  }

  @Test
  void documentsEveryFerryMetricByItsPrometheusName() throws IllegalAccessException {
    Set<String> names = new TreeSet<>();
    for (Field f : MetricNames.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && !f.getName().startsWith("TAG_")) {
        names.add(((String) f.get(null)).replace('.', '_'));
      }
    }
    for (String name : names) {
      assertThat(README).as("README mentions " + name).containsPattern("`" + Pattern.quote(name) + "(_total|_seconds)?[`{]");
    }
  }

  @Test
  void documentsEveryCloseReason() {
    for (CloseReason r : CloseReason.values()) {
      assertThat(README).as("README close reasons").contains("`" + r.name() + "`");
    }
  }
}
