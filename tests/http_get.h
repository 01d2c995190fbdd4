#ifndef TEXTGEN_TESTS_HTTP_GET_H_
#define TEXTGEN_TESTS_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace textgen::testing {

// Opens a TCP connection to 127.0.0.1:`port` and returns its descriptor,
// or -1; the caller closes it.
inline int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// The response to an HTTP request, with status 0 when the connection failed.
struct HttpResponse {
  int status = 0;
  std::string body;
};

// Sends `GET path` over HTTP/1.0 to 127.0.0.1:`port` and reads the whole
// response. It supports only what a metrics endpoint and Prometheus's API need.
// A read that waits longer than `timeout_seconds` ends the response there.
inline HttpResponse HttpGet(int port, const std::string& path, int timeout_seconds = 60) {
  HttpResponse response;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return response;
  timeval timeout{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return response;
  }
  std::string answer;
  char buffer[8192];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
  close(fd);

  // "HTTP/1.x CODE reason\r\n" headers "\r\n\r\n" body
  const size_t body_start = answer.find("\r\n\r\n");
  if (answer.compare(0, 5, "HTTP/") != 0 || body_start == std::string::npos) return response;
  response.status = std::stoi(answer.substr(answer.find(' ') + 1, 3));
  response.body = answer.substr(body_start + 4);
  return response;
}

// Returns a TCP port on 127.0.0.1 that was free a moment ago, for a program
// that cannot pick its own; 0 on failure.
inline int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = 0;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

}  // namespace textgen::testing

#endif  // TEXTGEN_TESTS_HTTP_GET_H_
