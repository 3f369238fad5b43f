package dev.ferry.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The objects of {@code k8s/kustomization.yaml}, loaded without kubectl: each file of {@code resources} through
 * fabric8's Kubernetes model (typed for built-in kinds, {@link GenericKubernetesResource} for CRDs such as
 * ServiceMonitor and PrometheusRule), plus the ConfigMaps its {@code configMapGenerator} produces (created, or merged
 * into a listed ConfigMap of the same name), as kustomize would with {@code disableNameSuffixHash}.
 */
final class Manifests {

  static final Path K8S = Path.of("k8s");

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  final Map<String, Object> kustomization;
  final List<HasMetadata> objects;

  private Manifests(Map<String, Object> kustomization, List<HasMetadata> objects) {
    this.kustomization = kustomization;
    this.objects = objects;
  }

  static Manifests load() {
    Map<String, Object> k = yamlMap(K8S.resolve("kustomization.yaml"));
    List<HasMetadata> objects = new ArrayList<>();
    for (Object file : list(k.get("resources"))) {
      try (InputStream in = Files.newInputStream(K8S.resolve((String) file))) {
        Object parsed = SERIALIZATION.unmarshal(in);
        if (!(parsed instanceof HasMetadata)) {
          throw new AssertionError(file + ": not one Kubernetes object: " + parsed);
        }
        objects.add((HasMetadata) parsed);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    for (Object g : list(k.get("configMapGenerator"))) {
      Map<?, ?> gen = (Map<?, ?>) g;
      String name = (String) gen.get("name");
      Map<String, String> data = new LinkedHashMap<>();
      for (Object f : list(gen.get("files"))) {
        Path p = K8S.resolve((String) f);
        data.put(p.getFileName().toString(), read(p));
      }
      Optional<ConfigMap> existing = objects.stream().filter(o -> o instanceof ConfigMap && name.equals(o.getMetadata().getName()))
        .map(ConfigMap.class::cast).findFirst();
      if ("merge".equals(gen.get("behavior"))) {
        ConfigMap target = existing.orElseThrow(() -> new AssertionError("configMapGenerator " + name
          + " merges into a ConfigMap that no resource defines"));
        Map<String, String> merged = new LinkedHashMap<>(target.getData() == null ? Map.of() : target.getData());
        merged.putAll(data);
        target.setData(merged);
      } else {
        if (existing.isPresent()) {
          throw new AssertionError("configMapGenerator " + name + " would clash with a resource of the same name");
        }
        objects.add(new ConfigMapBuilder().withNewMetadata().withName(name).endMetadata().withData(data).build());
      }
    }
    return new Manifests(k, objects);
  }

  <T extends HasMetadata> T one(Class<T> type, String name) {
    return objects.stream().filter(type::isInstance).map(type::cast)
      .filter(o -> name.equals(o.getMetadata().getName())).findFirst()
      .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " named " + name + " in k8s/"));
  }

  GenericKubernetesResource custom(String kind, String name) {
    return objects.stream().filter(o -> o instanceof GenericKubernetesResource && kind.equals(o.getKind()))
      .map(GenericKubernetesResource.class::cast).filter(o -> name.equals(o.getMetadata().getName())).findFirst()
      .orElseThrow(() -> new AssertionError("no " + kind + " named " + name + " in k8s/"));
  }

  /**
   * Fields the typed model did not recognise (a misspelt {@code readinesProbe}, a field of another API version),
   * as "path: field" strings. fabric8 keeps them in additionalProperties instead of failing, so look for them.
   */
  static List<String> unknownFields(Object model) {
    List<String> found = new ArrayList<>();
    walk(model, model.getClass().getSimpleName(), found);
    return found;
  }

  private static void walk(Object o, String path, List<String> found) {
    if (o == null) {
      return;
    }
    if (o instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        walk(e, path + "[" + i++ + "]", found);
      }
      return;
    }
    if (o instanceof Map<?, ?> m) {
      m.forEach((k, v) -> walk(v, path + "." + k, found));
      return;
    }
    if (!(o instanceof KubernetesResource)) {
      return;
    }
    for (Method getter : o.getClass().getMethods()) {
      if (getter.getParameterCount() != 0 || Modifier.isStatic(getter.getModifiers())
          || !getter.getName().startsWith("get") || getter.getDeclaringClass() == Object.class) {
        continue;
      }
      Object value;
      try {
        value = getter.invoke(o);
      } catch (ReflectiveOperationException e) {
        continue;
      }
      if (getter.getName().equals("getAdditionalProperties")) {
        if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
          extra.keySet().forEach(k -> found.add(path + ": " + k));
        }
      } else {
        walk(value, path + "." + getter.getName().substring(3), found);
      }
    }
  }

  static Map<String, Object> yamlMap(Path file) {
    return yamlMap(read(file));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> yamlMap(String text) {
    Object o = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
    if (!(o instanceof Map)) {
      throw new AssertionError("not a YAML mapping: " + text.substring(0, Math.min(80, text.length())));
    }
    return (Map<String, Object>) o;
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<?> list(Object o) {
    return o == null ? List.of() : (List<?>) o;
  }
}
