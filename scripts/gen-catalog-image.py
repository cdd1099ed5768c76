#!/usr/bin/env python3
"""Generate the image content and OSV database for scripts/bench-catalog.sh (no network).

Writes into OUT:
  app-layer.tar      an uncompressed layer tar holding
                       app/app.jar: a Spring-Boot-shaped fat jar, ~JAR_MIB MiB, whose
                         BOOT-INF/lib/ holds one stored (uncompressed) jar per Maven artifact
                         below, each with META-INF/MANIFEST.MF,
                         META-INF/maven/<g>/<a>/pom.properties and pom.xml, and deflated filler
                         `.class` entries;
                       usr/local/lib/python3.11/site-packages/: one `<name>-<version>.dist-info`
                         (METADATA, RECORD, WHEEL, INSTALLER, top_level.txt) and a small module
                         directory per PyPI package below;
                       app/web/node_modules/: one directory (package.json, index.js, README.md,
                         LICENSE) per npm package below, plus some nested duplicates at other
                         versions (node_modules/<a>/node_modules/<b>), and npm's hidden
                         lockfile node_modules/.package-lock.json, as `npm ci` leaves them;
  osv/records/<Ecosystem>/<ID>.json    synthetic OSV records shaped like osv.dev's (what
                         `cleanpipe scan --db` reads);
  osv/osv-scanner/osv-scalibr/<Ecosystem>/all.zip    the same records, one zip per
                         ecosystem (what `osv-scanner --offline --local-db-path` reads);
  expected.json      the package set per ecosystem (purl type -> sorted "name@version") and
                         the findings the records imply (ecosystem -> sorted "ID name@version").

Every Debian package installed in DEBIAN_TAR (var/lib/dpkg/status) gets records by its source
name (osv.dev's Debian records name the source package), ecosystem `Debian:<major>`.
About a third of the packages of each ecosystem get an advisory that affects the installed
version, another third one that does not (introduced after it); the rest of the records name
packages that are not in the image, as most of a real database does.

Usage: gen-catalog-image.py --debian-tar TAR --out DIR [--jar-mib 110] [--records 4000]
                            [--seed 1]
"""
import argparse
import base64
import hashlib
import io
import json
import os
import random
import re
import sys
import tarfile
import zipfile

# Spring Boot 3.2.5's dependency set for a web + JPA + security + actuator + kafka + redis app,
# with the versions Boot 3.2.5 manages.
MAVEN = """
org.springframework.boot:spring-boot:3.2.5 org.springframework.boot:spring-boot-autoconfigure:3.2.5
org.springframework.boot:spring-boot-starter:3.2.5 org.springframework.boot:spring-boot-starter-web:3.2.5
org.springframework.boot:spring-boot-starter-json:3.2.5 org.springframework.boot:spring-boot-starter-tomcat:3.2.5
org.springframework.boot:spring-boot-starter-logging:3.2.5 org.springframework.boot:spring-boot-starter-data-jpa:3.2.5
org.springframework.boot:spring-boot-starter-jdbc:3.2.5 org.springframework.boot:spring-boot-starter-aop:3.2.5
org.springframework.boot:spring-boot-starter-actuator:3.2.5 org.springframework.boot:spring-boot-starter-validation:3.2.5
org.springframework.boot:spring-boot-starter-security:3.2.5 org.springframework.boot:spring-boot-actuator:3.2.5
org.springframework.boot:spring-boot-actuator-autoconfigure:3.2.5 org.springframework.boot:spring-boot-jarmode-layertools:3.2.5
org.springframework:spring-core:6.1.6 org.springframework:spring-jcl:6.1.6 org.springframework:spring-beans:6.1.6
org.springframework:spring-context:6.1.6 org.springframework:spring-context-support:6.1.6
org.springframework:spring-aop:6.1.6 org.springframework:spring-expression:6.1.6 org.springframework:spring-web:6.1.6
org.springframework:spring-webmvc:6.1.6 org.springframework:spring-jdbc:6.1.6 org.springframework:spring-orm:6.1.6
org.springframework:spring-tx:6.1.6 org.springframework:spring-aspects:6.1.6 org.springframework:spring-oxm:6.1.6
org.springframework:spring-messaging:6.1.6
org.springframework.data:spring-data-jpa:3.2.5 org.springframework.data:spring-data-commons:3.2.5
org.springframework.data:spring-data-redis:3.2.5 org.springframework.data:spring-data-keyvalue:3.2.5
org.springframework.security:spring-security-core:6.2.4 org.springframework.security:spring-security-config:6.2.4
org.springframework.security:spring-security-web:6.2.4 org.springframework.security:spring-security-crypto:6.2.4
org.springframework.kafka:spring-kafka:3.1.4 org.springframework.retry:spring-retry:2.0.5
com.fasterxml.jackson.core:jackson-databind:2.15.4 com.fasterxml.jackson.core:jackson-core:2.15.4
com.fasterxml.jackson.core:jackson-annotations:2.15.4 com.fasterxml.jackson.datatype:jackson-datatype-jdk8:2.15.4
com.fasterxml.jackson.datatype:jackson-datatype-jsr310:2.15.4 com.fasterxml.jackson.module:jackson-module-parameter-names:2.15.4
com.fasterxml.jackson.dataformat:jackson-dataformat-yaml:2.15.4
org.apache.tomcat.embed:tomcat-embed-core:10.1.20 org.apache.tomcat.embed:tomcat-embed-el:10.1.20
org.apache.tomcat.embed:tomcat-embed-websocket:10.1.20
ch.qos.logback:logback-classic:1.4.14 ch.qos.logback:logback-core:1.4.14
org.apache.logging.log4j:log4j-to-slf4j:2.21.1 org.apache.logging.log4j:log4j-api:2.21.1
org.slf4j:jul-to-slf4j:2.0.13 org.slf4j:slf4j-api:2.0.13 org.yaml:snakeyaml:2.2
jakarta.annotation:jakarta.annotation-api:2.1.1 jakarta.persistence:jakarta.persistence-api:3.1.0
jakarta.transaction:jakarta.transaction-api:2.0.1 jakarta.validation:jakarta.validation-api:3.0.2
jakarta.xml.bind:jakarta.xml.bind-api:4.0.2 jakarta.activation:jakarta.activation-api:2.1.3
jakarta.inject:jakarta.inject-api:2.0.1
org.hibernate.orm:hibernate-core:6.4.4.Final org.hibernate.validator:hibernate-validator:8.0.1.Final
org.hibernate.common:hibernate-commons-annotations:6.0.6.Final org.jboss.logging:jboss-logging:3.5.3.Final
com.fasterxml:classmate:1.6.0 net.bytebuddy:byte-buddy:1.14.13 net.bytebuddy:byte-buddy-agent:1.14.13
io.smallrye:jandex:3.1.2 org.antlr:antlr4-runtime:4.13.0 org.glassfish.jaxb:jaxb-runtime:4.0.5
org.glassfish.jaxb:jaxb-core:4.0.5 org.glassfish.jaxb:txw2:4.0.5 com.sun.istack:istack-commons-runtime:4.1.2
org.eclipse.angus:angus-activation:2.0.2 com.zaxxer:HikariCP:5.0.1 org.postgresql:postgresql:42.6.2
org.aspectj:aspectjweaver:1.9.22
io.micrometer:micrometer-core:1.12.5 io.micrometer:micrometer-commons:1.12.5
io.micrometer:micrometer-observation:1.12.5 io.micrometer:micrometer-jakarta9:1.12.5
io.micrometer:micrometer-registry-prometheus:1.12.5 io.prometheus:simpleclient:0.16.0
io.prometheus:simpleclient_common:0.16.0 org.hdrhistogram:HdrHistogram:2.1.12 org.latencyutils:LatencyUtils:2.0.3
com.google.guava:guava:32.1.3-jre com.google.guava:failureaccess:1.0.1 com.google.code.findbugs:jsr305:3.0.2
com.google.errorprone:error_prone_annotations:2.21.1 com.google.j2objc:j2objc-annotations:2.8
org.checkerframework:checker-qual:3.37.0
org.apache.commons:commons-lang3:3.13.0 commons-codec:commons-codec:1.16.1 commons-io:commons-io:2.15.1
org.apache.commons:commons-text:1.11.0 org.apache.commons:commons-collections4:4.4
org.apache.httpcomponents.client5:httpclient5:5.2.3 org.apache.httpcomponents.core5:httpcore5:5.2.4
org.apache.httpcomponents.core5:httpcore5-h2:5.2.4
io.netty:netty-buffer:4.1.109.Final io.netty:netty-codec:4.1.109.Final io.netty:netty-common:4.1.109.Final
io.netty:netty-handler:4.1.109.Final io.netty:netty-resolver:4.1.109.Final io.netty:netty-transport:4.1.109.Final
io.netty:netty-transport-native-unix-common:4.1.109.Final io.netty:netty-codec-http:4.1.109.Final
io.projectreactor:reactor-core:3.6.5 org.reactivestreams:reactive-streams:1.0.4 io.lettuce:lettuce-core:6.3.2.RELEASE
org.flywaydb:flyway-core:9.22.3 org.springdoc:springdoc-openapi-starter-webmvc-ui:2.3.0
org.springdoc:springdoc-openapi-starter-webmvc-api:2.3.0 org.springdoc:springdoc-openapi-starter-common:2.3.0
io.swagger.core.v3:swagger-core-jakarta:2.2.19 io.swagger.core.v3:swagger-annotations-jakarta:2.2.19
io.swagger.core.v3:swagger-models-jakarta:2.2.19 org.webjars:swagger-ui:5.10.3 org.webjars:webjars-locator-core:0.55
io.github.classgraph:classgraph:4.8.165 org.mapstruct:mapstruct:1.5.5.Final
io.jsonwebtoken:jjwt-api:0.12.5 io.jsonwebtoken:jjwt-impl:0.12.5 io.jsonwebtoken:jjwt-jackson:0.12.5
com.nimbusds:nimbus-jose-jwt:9.37.3 net.minidev:json-smart:2.5.1 net.minidev:accessors-smart:2.5.1
org.ow2.asm:asm:9.6 org.apache.kafka:kafka-clients:3.6.2 com.github.luben:zstd-jni:1.5.5-6
org.lz4:lz4-java:1.8.0 org.xerial.snappy:snappy-java:1.1.10.5
"""

# Relative sizes (MiB in the real artifacts) of the big ones; the rest are drawn at random.
MAVEN_SIZE = {
    "hibernate-core": 11.0, "kafka-clients": 5.0, "byte-buddy": 4.2, "tomcat-embed-core": 3.5,
    "guava": 3.0, "swagger-ui": 3.6, "aspectjweaver": 2.1, "spring-core": 1.9, "spring-web": 1.9,
    "spring-context": 1.3, "jackson-databind": 1.6, "lettuce-core": 1.4, "postgresql": 1.1,
    "snappy-java": 2.1, "zstd-jni": 6.7, "reactor-core": 1.8, "flyway-core": 1.0,
    "spring-security-web": 0.8, "spring-webmvc": 1.0, "netty-handler": 0.6, "netty-common": 0.7,
    "classgraph": 0.6, "micrometer-core": 0.9, "jaxb-runtime": 0.9, "logback-core": 0.6,
}

# The most downloaded PyPI projects, with a recent version of each.
PYPI = """
boto3==1.44.5 packaging==26.3 urllib3==2.8.0 idna==3.20 requests==2.34.2
typing-extensions==4.16.0 charset-normalizer==3.5.2 setuptools==84.2.1 botocore==1.44.5
cryptography==50.0.2 aiobotocore==3.10.0 python-dateutil==4.0.0 six==1.17.0 pyyaml==6.0.3
pydantic==2.14.3 pygments==2.21.0 cffi==2.1.1 click==8.5.1 numpy==2.5.5 pluggy==1.7.0
pycparser==3.12 pydantic-core==2.50.4 grpcio-status==1.85.1 anyio==4.16.0 s3transfer==0.19.3
attrs==26.1.0 protobuf==7.36.2 h11==0.16.0 pytest==9.2.0 annotated-types==0.8.0 iniconfig==2.3.1
fsspec==2026.9.0 httpx==0.28.1 httpcore==1.0.9 typing-inspection==0.4.5 pandas==3.1.1
s3fs==2026.9.0 markupsafe==3.0.4 platformdirs==4.14.5 python-dotenv==1.2.4 pathspec==1.1.1
pyjwt==2.15.1 jinja2==3.1.6 rich==15.0.0 jmespath==1.1.0 markdown-it-py==4.3.0 aiohttp==3.14.5
filelock==4.2.11 importlib-metadata==10.2.0 yarl==1.25.1 starlette==1.10.0 multidict==7.2.1
jsonschema==4.26.0 zipp==4.1.2 uvicorn==0.54.0 propcache==0.5.4 wheel==0.48.0 mdurl==0.1.2
pyasn1==0.6.5 pytz==2026.6 google-auth==2.62.2 googleapis-common-protos==1.76.0
frozenlist==1.8.0 fastapi==0.163.2 rpds-py==2026.9.1 tqdm==4.70.1 annotated-doc==0.0.6
aiosignal==1.4.0 referencing==0.37.0 jsonschema-specifications==2025.9.1
trove-classifiers==2026.9.21.13 tzdata==2026.6 google-api-core==2.44.0 aiohappyeyeballs==2.7.1
pillow==13.0.0 virtualenv==21.15.7 greenlet==3.5.6 colorama==0.4.6 pyasn1-modules==0.4.2
typer==0.29.1 grpcio==1.85.1 opentelemetry-sdk==1.45.2 tenacity==9.2.1 wrapt==2.5.2
requests-oauthlib==2.0.0 opentelemetry-api==1.45.2 pyarrow==26.0.1 awscli==1.46.2
websockets==17.4 python-multipart==0.0.34 scipy==1.18.1 sniffio==1.3.1 pydantic-settings==2.16.3
sqlalchemy==2.1.9 pyparsing==3.3.3 shellingham==1.5.4 tomli==2.5.0 lxml==6.1.3
beautifulsoup4==4.15.0 oauthlib==4.0.1 soupsieve==4.1.1 psutil==7.2.2 regex==2026.11.15
cachetools==8.0.0 textual==8.2.8 sglang==0.5.23 openai==3.51.0 exceptiongroup==1.3.1
hatchling==1.33.0 opentelemetry-proto==1.45.2 more-itertools==11.2.1 requests-toolbelt==1.0.0
watchfiles==1.3.0 rsa==4.9.1 tomlkit==0.15.2 proto-plus==1.29.0 distro==1.9.0 distlib==0.4.4
jiter==0.19.0 mcp==2.3.0 websocket-client==1.9.2 mypy-extensions==1.2.0
opentelemetry-exporter-otlp-proto-http==1.45.2 langchain==1.5.0 openpyxl==3.1.5
et-xmlfile==2.0.0 sse-starlette==3.7.0 wcwidth==0.9.4 editables==0.6 coverage==7.17.3
docutils==0.23 huggingface-hub==2.4.0 grpcio-tools==1.85.1 pydantic-ai-slim==2.68.0
dnspython==2.9.2 werkzeug==3.1.9 networkx==3.7 google-cloud-storage==3.17.1 redis==8.1.0
gitpython==3.2.1 google-genai==3.3.0 msgpack==1.2.4 psycopg2-binary==2.9.13 pyopenssl==26.4.0
ptyprocess==0.7.0 decorator==5.3.1 python-discovery==1.9.5
opentelemetry-exporter-otlp-proto-grpc==1.45.2 opentelemetry-exporter-otlp-proto-common==1.45.2
smmap==5.0.3 pexpect==4.9.0 ruff==0.17.5 docker==7.2.0 pynacl==1.6.2 sortedcontainers==2.4.0
keyring==25.7.0 docstring-parser==0.18.0 uvloop==0.23.0 httptools==0.9.0 fonttools==4.68.0
multiprocess==0.70.19 tabulate==0.10.0 gitdb==4.0.12 matplotlib==3.11.2 isodate==0.7.2
async-timeout==5.0.1 httpx-sse==0.4.3 prompt-toolkit==3.0.53 jaraco-classes==3.4.0
azure-core==1.41.0 secretstorage==3.5.0 jeepney==0.9.0 azure-identity==1.27.0
scikit-learn==1.9.1 itsdangerous==2.2.0 flask==3.1.3 google-cloud-core==2.8.0 hf-xet==1.8.0
bcrypt==5.0.0 jaraco-functools==4.6.0 kiwisolver==1.5.1 jaraco-context==6.1.2 dill==0.4.1
joblib==1.6.0 pytest-cov==7.1.0 pytest-asyncio==1.5.0 contourpy==1.4.0 alembic==1.20.1
orjson==3.13.0 email-validator==2.4.0 deprecated==3.0.1 msal==1.39.0
google-resumable-media==2.11.0 google-crc32c==1.9.0 chardet==7.7.0 ruamel-yaml==0.19.1
defusedxml==0.7.1 threadpoolctl==3.8.0 tokenizers==0.23.3 blinker==1.9.0
snowflake-connector-python==5.2.0 kubernetes==37.0.2 tiktoken==0.14.0 pytest-json-ctrf==0.6.1
mako==1.4.3 cycler==0.12.1 tzlocal==5.4.5 toml==0.10.2 mypy==2.4.1
google-api-python-client==2.202.0 sympy==1.14.0 jsonpointer==3.12 poetry-core==2.5.0
nodeenv==1.12.0 databricks-sql-connector==4.9.0 pydantic-graph==2.68.0 xxhash==4.1.0
pyproject-hooks==1.3.3 uv==0.13.8 zstandard==0.25.0 ipython==9.18.1
google-cloud-aiplatform==2.7.0 uritemplate==4.2.0 opentelemetry-exporter-otlp==1.45.2
prometheus-client==0.26.0 google-auth-oauthlib==1.5.0 asn1crypto==1.5.1
google-auth-httplib2==0.4.4 rapidfuzz==3.14.6 google-cloud-bigquery==3.47.0 build==1.6.1
traitlets==5.16.1 google-cloud-secret-manager==2.32.0 paramiko==5.1.0 httplib2==0.32.1
types-requests==2.33.0.20261030 ydb==3.33.2 identify==2.6.20 transformers==5.23.0
pre-commit==4.7.0 cfgv==3.5.0 jedi==0.20.1 aiofiles==25.1.0 google-cloud-batch==0.22.4
parso==0.8.7 backoff==2.2.1 executing==2.3.0 weaviate-client==4.24.1 h2==4.4.1
marshmallow==4.4.0 hyperframe==6.1.0 fastjsonschema==2.22.3 hpack==4.2.0
matplotlib-inline==0.2.2 sqlparse==0.6.1 mpmath==1.4.1 durationpy==0.11 msal-extensions==1.3.1
jsonpatch==1.47 asttokens==3.0.2 setuptools-scm==10.3.4 azure-storage-blob==12.31.1
google-analytics-admin==0.30.2 gunicorn==27.0.1 anthropic==2.10.0 babel==2.18.0
cloudpickle==3.1.2 authlib==1.9.6 grpc-google-iam-v1==0.14.6 pure-eval==0.2.4 stack-data==0.6.3
black==26.10.1 datasets==5.2.0 sentry-sdk==2.75.0 google-cloud-compute==1.56.0
google-cloud-kms==3.18.0 pytest-xdist==3.8.0 langchain-core==1.8.1 asgiref==3.13.0
tornado==6.6.1 gcsfs==2026.10.1 xmltodict==1.0.4 webencodings==0.6.1 cython==3.3.1
nest-asyncio==1.6.0 execnet==2.1.2 databricks-sdk==0.162.0 dbt-core==1.12.6 librt==0.16.0
termcolor==3.3.0 python-json-logger==4.2.0 pyee==16.0.1 pandas-stubs==3.1.0.261029
py4j==0.10.9.9 markdown==3.11.3 google-cloud-dlp==3.40.0 playwright==1.65.2 pyzmq==27.3.0
cachecontrol==0.14.4 importlib-resources==7.1.0
"""

# The most downloaded npm packages, with a recent version of each.
NPM = """
semver@7.8.6 ansi-styles@7.0.0 debug@4.4.3 minimatch@11.0.9 strip-ansi@7.2.0 chalk@6.0.1
supports-color@11.0.0 string-width@9.0.0 ansi-regex@6.6.0 ms@2.1.3 lru-cache@11.5.3
brace-expansion@5.0.13 tslib@2.9.1 emoji-regex@11.0.0 wrap-ansi@10.0.2 type-fest@5.10.0
commander@15.1.0 glob@14.0.6 color-name@2.1.1 color-convert@3.1.3 source-map@0.8.0
@types/node@26.6.6 has-flag@5.0.1 readable-stream@4.8.0 picomatch@4.0.7 ajv@8.20.0
safe-buffer@5.2.1 escape-string-regexp@5.0.0 uuid@14.0.3 yallist@5.0.0 signal-exit@4.1.0
react-is@19.3.1 is-fullwidth-code-point@5.1.0 which@7.0.0 p-limit@7.3.3
json-schema-traverse@1.0.0 find-up@8.0.0 locate-path@8.0.0 p-locate@7.0.0 mime-db@1.54.0
eslint-visitor-keys@5.0.1 telecom-mas-agent@1.0.12 minipass@7.1.3 glob-parent@6.0.2
iconv-lite@0.7.3 string_decoder@1.3.0 js-yaml@5.5.0 isarray@2.0.5 mime-types@3.0.2
@babel/types@8.1.2 @babel/code-frame@8.0.6 globals@17.14.0 path-key@4.0.0 yargs-parser@22.0.0
ws@8.23.0 resolve@1.22.14 get-stream@9.0.1 argparse@3.0.4 @babel/parser@8.1.2 yargs@18.2.0
pretty-format@30.5.1 ignore@7.0.16 undici-types@8.12.4 acorn@8.19.0 isexe@4.0.0
cross-spawn@7.0.6 postcss@8.5.33 balanced-match@5.0.0 resolve-from@5.0.0
@rollup/rollup-linux-x64-musl@4.68.2 fs-extra@11.4.1 camelcase@10.0.0 cliui@9.0.1
@jridgewell/trace-mapping@0.3.31 punycode@2.3.1 @babel/helper-validator-identifier@8.0.6
@babel/generator@8.1.2 is-stream@4.0.1 entities@9.0.0 agent-base@9.0.0 estraverse@5.3.0
strip-json-comments@5.1.0 shebang-regex@4.0.0 shebang-command@2.0.0 json5@2.2.3
@babel/traverse@8.1.2 webidl-conversions@8.0.1 path-exists@5.0.0 path-to-regexp@9.0.0
whatwg-url@17.3.0 https-proxy-agent@9.1.0 onetime@8.0.0 @babel/core@8.1.2 form-data@4.0.6
tr46@7.0.0 @babel/template@8.1.2 execa@10.2.1 typescript@7.0.2 eslint-scope@9.1.2 inherits@2.0.4
convert-source-map@2.0.0 rimraf@6.1.4 negotiator@1.1.0 qs@6.17.1 get-intrinsic@1.3.1
@babel/helper-module-imports@8.0.0 @babel/runtime@8.1.2 statuses@2.0.2 universalify@2.0.1
fast-deep-equal@3.1.3 minimist@1.2.8 picocolors@1.1.1 @babel/helper-module-transforms@8.1.2
chokidar@6.0.0 @babel/compat-data@8.1.2 @babel/helpers@8.1.2 has-symbols@1.1.0
@jest/types@30.5.1 esbuild@0.28.2 @typescript-eslint/types@8.73.0
@babel/helper-compilation-targets@8.0.7 function-bind@1.1.2 caniuse-lite@1.0.30001826
npm-run-path@6.0.0 js-tokens@10.0.0 graceful-fs@4.2.12 @babel/helper-string-parser@8.1.2
is-number@7.0.0 bytes@3.1.2 @jridgewell/sourcemap-codec@1.6.0 readdirp@5.1.1
@types/estree@1.0.10 mimic-fn@5.0.0 slash@5.1.0 @typescript-eslint/typescript-estree@8.73.0
y18n@5.0.8 browserslist@4.29.6 electron-to-chromium@1.5.488 kind-of@6.0.3
@typescript-eslint/visitor-keys@8.73.0 yaml@2.9.1 buffer@6.0.3 cookie@2.0.2 jsesc@3.1.0
lodash@4.18.1 braces@3.0.3 fill-range@7.1.1 @babel/helper-plugin-utils@8.0.1 hasown@2.0.4
ini@7.0.0 node-fetch@3.3.2 escalade@3.2.0 @jridgewell/gen-mapping@0.3.13 human-signals@8.0.1
mkdirp@3.0.1 gopd@1.2.0 http-errors@2.0.1 micromatch@4.0.8
@typescript-eslint/scope-manager@8.73.0 strip-bom@5.0.0 es-object-atoms@1.1.2 concat-map@0.0.2
make-dir@5.1.0 is-glob@4.0.3 es-define-property@1.0.1 nanoid@6.0.2 @smithy/util-utf8@4.5.2
es-errors@1.3.0 to-regex-range@5.0.1 @babel/helper-validator-option@8.0.0
call-bind-apply-helpers@1.0.2 schema-utils@4.8.3 @esbuild/linux-x64@0.28.2
update-browserslist-db@1.4.0 path-scurry@3.0.0 yocto-queue@1.2.2 node-releases@2.0.65
ci-info@4.5.0 dunder-proto@1.0.1 math-intrinsics@1.1.0 mime@4.1.2 get-proto@1.0.1
@jridgewell/resolve-uri@3.1.3 has-tostringtag@1.0.2 uri-js@4.4.1 magic-string@1.4.5
object-inspect@1.13.4 fast-glob@3.3.3 dotenv@18.0.10 pify@6.1.0 zod@4.6.7 @aws-sdk/types@3.975.1
@typescript-eslint/utils@8.73.0 @smithy/util-buffer-from@4.5.2 http-proxy-agent@9.1.0
is-extglob@2.1.1 strip-final-newline@4.0.0 parse-json@8.3.0 espree@11.2.0 once@1.4.0
source-map-support@0.5.21 content-disposition@3.0.0 jest-util@30.5.1 es-set-tostringtag@2.1.0
is-wsl@3.1.1 wrappy@1.0.2 @sinclair/typebox@0.34.52 safer-buffer@2.1.2 normalize-path@3.0.0
side-channel@1.1.1 is-core-module@2.18.0 eslint@10.15.0 cosmiconfig@10.0.1 util-deprecate@1.0.2
axios@1.21.1 jsonfile@6.2.1 @img/sharp-linuxmusl-x64@0.35.5 ansi-escapes@7.3.0
@img/sharp-libvips-linuxmusl-x64@1.3.4 encodeurl@3.0.1 jest-worker@30.5.1
@smithy/is-array-buffer@4.5.2 depd@2.0.0 jackspeak@4.2.3 scheduler@0.28.0 doctrine@3.0.0
@smithy/types@4.20.0 postcss-selector-parser@7.2.1 lightningcss-linux-x64-musl@1.33.0
flat-cache@6.1.23 @types/yargs@17.0.35 @unrs/resolver-binding-linux-x64-musl@1.13.0
callsites@4.2.0 react@19.3.1 delayed-stream@1.0.0 @opentelemetry/core@3.1.1 is-arrayish@0.3.4
@typescript-eslint/parser@8.73.0 asynckit@0.5.0 require-from-string@2.0.2 combined-stream@1.0.8
file-entry-cache@11.1.5 source-map-js@1.2.2 is-docker@4.0.0 @jest/schemas@30.5.0
object-assign@4.1.1 eastasianwidth@0.3.0 parse5@8.1.1 arg@5.0.2
@tailwindcss/oxide-linux-x64-musl@4.3.5 estree-walker@3.0.3 fastq@1.20.3 send@1.2.1
get-caller-file@2.0.5 finalhandler@2.1.1 esprima@4.0.1 import-fresh@4.0.1 path-parse@1.0.7
raw-body@4.0.0 range-parser@1.3.0 @types/json-schema@7.0.15 optionator@0.9.4 anymatch@3.1.3
esutils@2.0.3 type-check@0.4.0 restore-cursor@5.1.0 call-bound@1.0.4 diff@9.0.0 csstype@3.2.4
write-file-atomic@8.0.0 @types/react@19.3.0 setprototypeof@1.2.0 path-type@6.0.0 keyv@6.1.0
supports-preserve-symlinks-flag@1.0.0 async@3.2.6 foreground-child@4.0.3 on-finished@2.4.2
levn@0.4.1 prelude-ls@1.2.1 vary@1.1.2 fast-json-stable-stringify@2.1.0 globby@16.2.4
cli-cursor@5.0.0 @typescript-eslint/eslint-plugin@8.73.0 slice-ansi@10.0.1 base64-js@1.5.1
rxjs@7.8.2 react-dom@19.3.1 @nodelib/fs.stat@4.0.0 merge-stream@2.0.0 eventemitter3@5.0.4
detect-libc@2.1.2 serve-static@2.2.1 lines-and-columns@2.0.4 require-directory@2.1.1
@typescript-eslint/type-utils@8.73.0 rollup@4.68.8 reusify@1.1.0 tough-cookie@6.1.0
"""

MTIME = 1_700_000_000
WORDS = (b"java/lang/Object java/lang/String Ljava/util/List; Ljava/util/Map; <init> <clinit> "
         b"Code LineNumberTable LocalVariableTable this StackMapTable SourceFile RuntimeVisibleAnnotations "
         b"Lorg/springframework/lang/Nullable; java/util/Objects requireNonNull valueOf toString hashCode "
         b"equals getClass Ljava/lang/Class; java/lang/IllegalStateException append StringBuilder "
         b"Ljava/util/function/Function; apply accept Signature Exceptions InnerClasses NestHost "
         b"BootstrapMethods java/lang/invoke/LambdaMetafactory metafactory ()V (Ljava/lang/Object;)Z").split()


def class_pool(rng, n):
    """Filler `.class` bodies: a magic, then identifiers and opcodes; about 2.5:1 under deflate."""
    pool = []
    for _ in range(n):
        size = rng.randint(600, 9000)
        out = bytearray(b"\xca\xfe\xba\xbe\x00\x00\x00\x3d")
        while len(out) < size:
            if rng.random() < 0.6:
                w = rng.choice(WORDS)
                out += len(w).to_bytes(2, "big") + w
            else:
                out += rng.randbytes(rng.randint(4, 24))
        pool.append(bytes(out))
    return pool


def manifest(lines):
    return ("Manifest-Version: 1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines) + "\r\n").encode()


def zinfo(name, compress):
    zi = zipfile.ZipInfo(name, date_time=(2024, 4, 18, 12, 0, 0))
    zi.compress_type = compress
    zi.external_attr = 0o644 << 16
    return zi


def nested_jar(rng, pool, group, artifact, version, target):
    """One library jar of about `target` bytes: manifest, Maven metadata, filler classes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zinfo("META-INF/MANIFEST.MF", zipfile.ZIP_DEFLATED), manifest([
            ("Created-By", "Maven JAR Plugin 3.3.0"), ("Build-Jdk-Spec", "17"),
            ("Implementation-Title", artifact), ("Implementation-Version", version),
            ("Automatic-Module-Name", f"{group}.{artifact}".replace("-", "."))]))
        base = f"META-INF/maven/{group}/{artifact}"
        z.writestr(zinfo(f"{base}/pom.properties", zipfile.ZIP_DEFLATED),
                   f"artifactId={artifact}\ngroupId={group}\nversion={version}\n".encode())
        z.writestr(zinfo(f"{base}/pom.xml", zipfile.ZIP_DEFLATED), (
            '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
            f"  <modelVersion>4.0.0</modelVersion>\n  <groupId>{group}</groupId>\n"
            f"  <artifactId>{artifact}</artifactId>\n  <version>{version}</version>\n"
            "  <packaging>jar</packaging>\n</project>\n").encode())
        pkg = group.replace(".", "/") + "/" + re.sub(r"[^a-z0-9]", "", artifact.lower())
        i = 0
        while buf.tell() < target:
            sub = ("", "internal/", "support/", "config/", "util/")[i % 5]
            z.writestr(zinfo(f"{pkg}/{sub}C{i:05d}.class", zipfile.ZIP_DEFLATED), rng.choice(pool))
            i += 1
    return buf.getvalue()


def add_file(tar, path, data, mode=0o644):
    ti = tarfile.TarInfo(path)
    ti.size, ti.mode, ti.mtime = len(data), mode, MTIME
    tar.addfile(ti, io.BytesIO(data))


def add_dirs(tar, path, seen):
    parts = path.split("/")[:-1]
    for k in range(1, len(parts) + 1):
        d = "/".join(parts[:k])
        if d not in seen:
            seen.add(d)
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(ti)


def fat_jar(path, rng, maven, jar_mib):
    """The Spring Boot fat jar at `path`; returns the artifacts it holds ("g:a@v")."""
    pool = class_pool(rng, 3000)
    weights = [MAVEN_SIZE.get(a, rng.lognormvariate(-1.6, 1.1)) for _, a, _ in maven]
    scale = jar_mib * 1048576 * 0.97 / sum(weights)
    found = []
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zinfo("META-INF/MANIFEST.MF", zipfile.ZIP_DEFLATED), manifest([
            ("Created-By", "Maven JAR Plugin 3.3.0"), ("Build-Jdk-Spec", "17"),
            ("Implementation-Title", "demo"), ("Implementation-Version", "1.4.2"),
            ("Main-Class", "org.springframework.boot.loader.launch.JarLauncher"),
            ("Start-Class", "com.example.demo.DemoApplication"),
            ("Spring-Boot-Version", "3.2.5"), ("Spring-Boot-Classes", "BOOT-INF/classes/"),
            ("Spring-Boot-Lib", "BOOT-INF/lib/"), ("Spring-Boot-Classpath-Index", "BOOT-INF/classpath.idx"),
            ("Spring-Boot-Layers-Index", "BOOT-INF/layers.idx")]))
        z.writestr(zinfo("META-INF/maven/com.example/demo/pom.properties", zipfile.ZIP_DEFLATED),
                   b"artifactId=demo\ngroupId=com.example\nversion=1.4.2\n")
        found.append("com.example:demo@1.4.2")
        for i in range(120):
            z.writestr(zinfo(f"org/springframework/boot/loader/L{i:03d}.class", zipfile.ZIP_DEFLATED),
                       rng.choice(pool))
        for i in range(300):
            sub = ("web", "service", "repository", "config", "model")[i % 5]
            z.writestr(zinfo(f"BOOT-INF/classes/com/example/demo/{sub}/K{i:04d}.class", zipfile.ZIP_DEFLATED),
                       rng.choice(pool))
        z.writestr(zinfo("BOOT-INF/classes/application.yaml", zipfile.ZIP_DEFLATED),
                   b"spring:\n  application:\n    name: demo\nserver:\n  port: 8080\n")
        idx = []
        for (g, a, v), w in zip(maven, weights):
            name = f"BOOT-INF/lib/{a}-{v}.jar"
            z.writestr(zinfo(name, zipfile.ZIP_STORED), nested_jar(rng, pool, g, a, v, int(w * scale)))
            idx.append(f'- "{name}"\n')
            found.append(f"{g}:{a}@{v}")
        z.writestr(zinfo("BOOT-INF/classpath.idx", zipfile.ZIP_DEFLATED), "".join(idx).encode())
        z.writestr(zinfo("BOOT-INF/layers.idx", zipfile.ZIP_DEFLATED),
                   b'- "dependencies":\n  - "BOOT-INF/lib/"\n- "application":\n  - "BOOT-INF/classes/"\n')
    return found


def pypi_norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def python_packages(tar, rng, seen):
    site = "usr/local/lib/python3.11/site-packages"
    found = []
    for item in PYPI.split():
        name, version = item.split("==")
        found.append(f"{pypi_norm(name)}@{version}")
        mod = re.sub(r"[-.]", "_", name).lower()
        files = {f"{mod}/__init__.py": f'"""{name}."""\n__version__ = "{version}"\n'.encode()}
        for k in range(rng.randint(1, 6)):
            body = "".join(f"def f{k}_{j}(x):\n    return x + {j}\n\n" for j in range(rng.randint(5, 60)))
            files[f"{mod}/m{k}.py"] = body.encode()
        dist = f"{re.sub(r'[-.]', '_', name)}-{version}.dist-info"
        meta = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: The {name} package\n"
                f"Home-page: https://example.org/{name}\nAuthor: {name} developers\nLicense: MIT\n"
                "Classifier: Programming Language :: Python :: 3\nRequires-Python: >=3.8\n"
                "Description-Content-Type: text/markdown\n\n" + f"# {name}\n\nLong description.\n" * 20)
        files[f"{dist}/METADATA"] = meta.encode()
        files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: bdist_wheel (0.43.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        files[f"{dist}/INSTALLER"] = b"pip\n"
        files[f"{dist}/top_level.txt"] = f"{mod}\n".encode()
        record = []
        for p, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{p},sha256={digest},{len(data)}\n")
        record.append(f"{dist}/RECORD,,\n")
        files[f"{dist}/RECORD"] = "".join(record).encode()
        for p, data in files.items():
            add_dirs(tar, f"{site}/{p}", seen)
            add_file(tar, f"{site}/{p}", data)
    return found


def npm_packages(tar, rng, seen):
    root = "app/web/node_modules"
    items = [i.rsplit("@", 1) for i in NPM.split()]
    found = []
    lock = {}  # npm's hidden lockfile, node_modules/.package-lock.json, as `npm ci` leaves it

    def one(path, name, version):
        pkg = {"name": name, "version": version, "description": f"The {name} package",
               "main": "index.js", "license": "MIT", "repository": {"type": "git", "url": f"git+https://example.org/{name}.git"},
               "dependencies": {}, "engines": {"node": ">=18"}}
        files = {
            "package.json": json.dumps(pkg, indent=2).encode() + b"\n",
            "index.js": "".join(f"exports.f{j} = (x) => x + {j};\n" for j in range(rng.randint(5, 200))).encode(),
            "README.md": f"# {name}\n\nUsage.\n".encode() * 10,
            "LICENSE": b"MIT License\n\nPermission is hereby granted, free of charge...\n",
        }
        for f, data in files.items():
            add_dirs(tar, f"{path}/{f}", seen)
            add_file(tar, f"{path}/{f}", data)
        found.append(f"{name}@{version}")
        lock[path[len("app/web/"):]] = {
            "version": version,
            "resolved": f"https://registry.npmjs.org/{name}/-/{name.split('/')[-1]}-{version}.tgz",
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(files["index.js"]).digest()).decode(),
            "license": "MIT"}

    for name, version in items:
        one(f"{root}/{name}", name, version)
    # Nested duplicates at an older major version, as npm leaves a conflicting dependency.
    for parent, child in zip(rng.sample(items, 30), rng.sample(items, 30)):
        if parent[0] == child[0]:
            continue
        major = int(child[1].split(".")[0])
        if major < 2:
            continue
        one(f"{root}/{parent[0]}/node_modules/{child[0]}", child[0], f"{major - 1}.{rng.randint(0, 9)}.{rng.randint(0, 20)}")
    hidden = {"name": "web", "version": "1.4.2", "lockfileVersion": 3, "requires": True,
              "packages": dict(sorted(lock.items()))}
    add_file(tar, f"{root}/.package-lock.json", json.dumps(hidden, indent=2).encode() + b"\n")
    return found


def debian_packages(debian_tar):
    """(binary, version, source) of each installed package, and the Debian major version."""
    with tarfile.open(debian_tar) as t:
        names = {m.name.lstrip("./"): m for m in t.getmembers()}
        status = t.extractfile(names["var/lib/dpkg/status"]).read().decode()
        osr = names.get("usr/lib/os-release") or names["etc/os-release"]
        release = t.extractfile(osr).read().decode()
    major = re.search(r'^VERSION_ID="?(\d+)', release, re.M).group(1)
    out = []
    for para in status.strip().split("\n\n"):
        f = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", para, re.M))
        if "install ok installed" not in f.get("Status", ""):
            continue
        src = f.get("Source", f["Package"]).split(" ")[0]
        out.append((f["Package"], f["Version"], src))
    return out, major


def bump(version):
    """A version just above `version` in any ecosystem's order: its last number plus one."""
    m = list(re.finditer(r"\d+", version))[-1]
    return version[:m.start()] + str(int(m.group()) + 1) + version[m.end():]


def vkey(version):
    """An order on these versions good enough for picking the highest: epoch, then the numbers."""
    epoch, _, rest = version.rpartition(":") if re.match(r"^\d+:", version) else ("0", "", version)
    return (int(epoch), [int(n) for n in re.findall(r"\d+", rest)])


CVSS = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
        "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N"]
LOREM = ("A flaw was found in the way the library handles crafted input. A remote attacker could use "
         "this to cause a denial of service or possibly execute arbitrary code. Versions before the fix "
         "do not bound the length of the parsed field, which leads to excessive memory use. ")


USED_IDS = set()


def record(rng, n, ecosystem, osv_eco, name, purl, introduced, fixed):
    while True:
        cve = f"CVE-{rng.randint(2019, 2026)}-{rng.randint(1000, 59999)}"
        if cve not in USED_IDS:
            USED_IDS.add(cve)
            break
    if ecosystem == "Debian":
        rid = f"DEBIAN-{cve}"
    else:
        rid = "GHSA-" + "-".join("".join(rng.choice("23456789cfghjmpqrvwx") for _ in range(4)) for _ in range(3))
        assert rid not in USED_IDS
        USED_IDS.add(rid)
    events = [{"introduced": introduced}] + ([{"fixed": fixed}] if fixed else [])
    rng_type = "SEMVER" if ecosystem == "npm" else "ECOSYSTEM"
    rec = {
        "schema_version": "1.6.0", "id": rid,
        "modified": "2025-06-01T12:00:00Z", "published": "2024-03-15T10:00:00Z",
        "aliases": [cve] if ecosystem != "Debian" else [],
        "upstream": [cve] if ecosystem == "Debian" else None,
        "summary": f"{name}: improper input validation ({n})",
        "details": LOREM * rng.randint(1, 5),
        "affected": [{
            "package": {"ecosystem": osv_eco, "name": name, "purl": purl},
            "ranges": [{"type": rng_type, "events": events}],
            "database_specific": {"source": f"https://example.org/advisories/{rid}.json"},
        }],
        "references": [{"type": "ADVISORY", "url": f"https://nvd.nist.gov/vuln/detail/{cve}"},
                       {"type": "WEB", "url": f"https://example.org/{name}/issues/{n}"}],
    }
    if rec["upstream"] is None:
        del rec["upstream"]
    if ecosystem != "Debian":
        rec["severity"] = [{"type": "CVSS_V3", "score": rng.choice(CVSS)}]
        rec["database_specific"] = {"cwe_ids": ["CWE-20"], "github_reviewed": True,
                                    "severity": rng.choice(["LOW", "MODERATE", "HIGH", "CRITICAL"])}
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debian-tar", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jar-mib", type=float, default=110)
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jar-only", action="store_true", help="write only the layer tar (no database)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    maven = [tuple(c.split(":")) for c in MAVEN.split()]

    jar = os.path.join(args.out, "app.jar")
    jars = fat_jar(jar, rng, maven, args.jar_mib)
    seen = set()
    with tarfile.open(os.path.join(args.out, "app-layer.tar"), "w", format=tarfile.PAX_FORMAT) as tar:
        add_dirs(tar, "app/app.jar", seen)
        ti = tar.gettarinfo(jar, "app/app.jar")
        ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = MTIME, 0o644, 0, 0, "", ""
        with open(jar, "rb") as f:
            tar.addfile(ti, f)
        pypi = python_packages(tar, rng, seen)
        npm = npm_packages(tar, rng, seen)
    deb, major = debian_packages(args.debian_tar)
    expected = {"packages": {
        "deb": sorted(f"{b}@{v}" for b, v, _ in deb), "maven": sorted(jars),
        "pypi": sorted(set(pypi)), "npm": sorted(set(npm))}, "findings": {}}
    print(f"app.jar {os.path.getsize(jar) / 1048576:.1f} MiB, {len(jars)} Maven artifacts; "
          f"{len(pypi)} PyPI, {len(npm)} npm, {len(deb)} Debian (Debian {major}) packages", file=sys.stderr)
    if args.jar_only:
        return

    # Subjects: (ecosystem, osv ecosystem, name, purl, installed versions).
    subjects = {"Debian": {}, "Maven": {}, "PyPI": {}, "npm": {}}
    for b, v, s in deb:
        subjects["Debian"].setdefault(s, set()).add(v)
    for j in jars:
        ga, v = j.rsplit("@", 1)
        subjects["Maven"].setdefault(ga, set()).add(v)
    for p in pypi:
        n, v = p.rsplit("@", 1)
        subjects["PyPI"].setdefault(n, set()).add(v)
    for p in npm:
        n, v = p.rsplit("@", 1)
        subjects["npm"].setdefault(n, set()).add(v)
    osv_eco = {"Debian": f"Debian:{major}", "Maven": "Maven", "PyPI": "PyPI", "npm": "npm"}

    def purl(eco, name):
        if eco == "Debian":
            return f"pkg:deb/debian/{name}?arch=source"
        if eco == "Maven":
            g, a = name.split(":")
            return f"pkg:maven/{g}/{a}"
        return f"pkg:{eco.lower()}/{name.replace('@', '%40')}"

    recs, findings, n = [], {e: set() for e in subjects}, 0
    per_eco = args.records // 4
    bins = {}
    for b, v, s in deb:
        bins.setdefault(s, []).append((b, v))
    for eco, names in subjects.items():
        made = 0
        for name in sorted(names):
            versions = sorted(names[name], key=vkey)
            roll = rng.random()
            if roll < 0.34:  # affects every installed version
                fixed = bump(versions[-1]) if rng.random() < 0.85 else None
                r = record(rng, n, eco, osv_eco[eco], name, purl(eco, name), "0", fixed)
                if eco == "Debian":
                    for b, v in bins[name]:
                        findings[eco].add(f"{r['id']} {b}@{v}")
                else:
                    for v in versions:
                        findings[eco].add(f"{r['id']} {name}@{v}")
            elif roll < 0.67:  # a regression introduced after the installed version
                v = versions[-1]
                r = record(rng, n, eco, osv_eco[eco], name, purl(eco, name), bump(v), bump(bump(v)))
            else:
                continue
            recs.append((eco, r))
            n += 1
            made += 1
        while made < per_eco:  # packages that are not in the image
            if eco == "Maven":
                name = f"org.example{made % 40}:lib-{made:04d}"
            elif eco == "Debian":
                name = f"libsyn{made:04d}"
            else:
                name = f"syn-{eco.lower()}-{made:04d}"
            v = f"{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"
            recs.append((eco, record(rng, n, eco, osv_eco[eco], name, purl(eco, name), "0", v)))
            n += 1
            made += 1

    base = os.path.join(args.out, "osv")
    for eco in subjects:
        os.makedirs(os.path.join(base, "records", eco), exist_ok=True)
        os.makedirs(os.path.join(base, "osv-scanner", "osv-scalibr", eco), exist_ok=True)
    zips = {eco: zipfile.ZipFile(os.path.join(base, "osv-scanner", "osv-scalibr", eco, "all.zip"), "w",
                                 zipfile.ZIP_DEFLATED) for eco in subjects}
    total = 0
    for eco, r in recs:
        data = json.dumps(r, indent=2).encode()
        total += len(data)
        with open(os.path.join(base, "records", eco, f"{r['id']}.json"), "wb") as f:
            f.write(data)
        zips[eco].writestr(f"{r['id']}.json", data)
    for z in zips.values():
        z.close()
    expected["findings"] = {e: sorted(f) for e, f in findings.items()}
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"{len(recs)} OSV records ({total / 1048576:.1f} MiB of JSON); "
          + ", ".join(f"{e} {len(f)}" for e, f in findings.items()) + " findings implied", file=sys.stderr)


if __name__ == "__main__":
    main()
