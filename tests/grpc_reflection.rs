//! Server reflection and health (issue 13, item 13): reflection answers as
//! `grpc.reflection.v1` and as `grpc.reflection.v1alpha` (older grpcurl and
//! Python's grpcio-reflection ask for that one), both list exactly the
//! services the server offers, and both describe the health service as well
//! as the API.
#![cfg(feature = "grpc")]

mod common;
#[path = "common/grpc_server.rs"]
mod grpc_server;

use daybook::grpc::Limits;
use grpc_server::{Server, start};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

/// Every service the server offers, sorted.
const SERVICES: [&str; 4] = [
    "daybook.v1.Daybook",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The first two fields of a `google.protobuf.FileDescriptorProto`.
#[derive(Clone, PartialEq, prost::Message)]
struct FileHead {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
}

/// What one reflection version answers: the services it lists, and the
/// (file name, package) of the files declaring the health and API services.
#[derive(Debug, PartialEq)]
struct Answers {
    services: Vec<String>,
    health_files: Vec<(String, String)>,
    api_files: Vec<(String, String)>,
}

/// Asks the reflection service of one version (`v1` or `v1alpha`, the
/// module of tonic_reflection's generated code) the three questions, each
/// as one call.
macro_rules! ask {
    ($s:expr, $v:ident) => {{
        use tonic_reflection::pb::$v::ServerReflectionRequest;
        use tonic_reflection::pb::$v::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$v::server_reflection_response::MessageResponse;
        let s: &Server = $s;
        let mut client = ServerReflectionClient::new(s.channel());
        let mut ask = |question: MessageRequest| -> MessageResponse {
            let req = ServerReflectionRequest {
                host: String::new(),
                message_request: Some(question),
            };
            s.rt.block_on(async {
                let mut answers = client
                    .server_reflection_info(tokio_stream::iter(vec![req]))
                    .await
                    .unwrap()
                    .into_inner();
                let answer = answers.message().await.unwrap().unwrap();
                assert_eq!(answers.message().await.unwrap(), None);
                answer.message_response.unwrap()
            })
        };
        let services = match ask(MessageRequest::ListServices(String::new())) {
            MessageResponse::ListServicesResponse(l) => {
                let mut names: Vec<String> = l.service.into_iter().map(|s| s.name).collect();
                names.sort();
                names
            }
            other => panic!("{other:?}"),
        };
        let mut files_of = |symbol: &str| -> Vec<(String, String)> {
            match ask(MessageRequest::FileContainingSymbol(symbol.to_string())) {
                MessageResponse::FileDescriptorResponse(f) => f
                    .file_descriptor_proto
                    .iter()
                    .map(|bytes| {
                        let head = <FileHead as prost::Message>::decode(bytes.as_slice()).unwrap();
                        (head.name.unwrap(), head.package.unwrap())
                    })
                    .collect(),
                other => panic!("{symbol}: {other:?}"),
            }
        };
        Answers {
            health_files: files_of("grpc.health.v1.Health"),
            api_files: files_of("daybook.v1.Daybook"),
            services,
        }
    }};
}

#[test]
fn reflection_v1_and_v1alpha_list_every_service() {
    let mut s = start(Limits::default(), |_| {});
    let expected = Answers {
        services: SERVICES.iter().map(|n| n.to_string()).collect(),
        // The name tonic-health gave its file.
        health_files: vec![("health.proto".to_string(), "grpc.health.v1".to_string())],
        api_files: vec![("daybook.proto".to_string(), "daybook.v1".to_string())],
    };
    assert_eq!(ask!(&s, v1), expected);
    assert_eq!(ask!(&s, v1alpha), expected);
    s.shutdown();
}

#[test]
fn health_reports_the_api_serving() {
    let mut s = start(Limits::default(), |_| {});
    let mut health = HealthClient::new(s.channel());
    let mut status = |service: &str| {
        let req = HealthCheckRequest {
            service: service.to_string(),
        };
        s.rt.block_on(health.check(req))
            .map(|r| r.into_inner().status)
    };
    assert_eq!(
        status("daybook.v1.Daybook").unwrap(),
        ServingStatus::Serving as i32
    );
    assert_eq!(status("").unwrap(), ServingStatus::Serving as i32);
    let e = status("no.such.Service").unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    assert_eq!(e.message(), "service not registered");
    s.shutdown();
}
