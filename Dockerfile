# Ferry image: build with Maven, run on a JRE as a non-root user.
# Not built by CI (no container engine there); see README "Deploy on Kubernetes".
FROM maven:3-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
RUN mvn -B -q dependency:go-offline
COPY src ./src
RUN mvn -B -q package -DskipTests

FROM eclipse-temurin:17-jre
# uid/gid 10001 match runAsUser/runAsGroup in k8s/deployment.yaml.
RUN groupadd --system --gid 10001 ferry && useradd --system --uid 10001 --gid ferry --no-create-home ferry
WORKDIR /opt/ferry
COPY --from=build /src/target/ferry.jar ./ferry.jar
COPY conf/ ./conf/
USER 10001:10001
EXPOSE 7000 9900
# In Kubernetes the Deployment passes --config /etc/ferry/ferry.yaml (a ConfigMap directory).
ENTRYPOINT ["java", "-jar", "/opt/ferry/ferry.jar"]
CMD ["--config", "/opt/ferry/conf/ferry.yaml"]
