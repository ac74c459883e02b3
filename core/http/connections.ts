/**
 * Which connections have a request in flight, so that a shutdown can close every other one at
 * once. Node's own close() only reaps keep-alive connections between requests: a connection
 * that sent nothing yet, or only part of its headers, would hold the shutdown until the client
 * gave up (Node even stops checking headersTimeout once the server closes).
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

interface Connection {
  /** The TCP socket, closed when the TLS handshake never completed. */
  raw: Socket;
  /** The socket requests arrive on (the TLS socket over `raw` under HTTPS). */
  http?: Socket;
  inFlight: number;
}

/** A TCP connection is one (remote address, remote port) pair while it lasts; under TLS that pair links the two sockets. */
const peerOf = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

export class ConnectionTracker {
  private readonly connections = new Map<string, Connection>();
  private draining = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      if (this.draining || socket.remoteAddress === undefined) {
        socket.destroy();
        return;
      }
      const peer = peerOf(socket);
      this.connections.set(peer, { raw: socket, inFlight: 0 });
      socket.once('close', () => this.connections.delete(peer));
    });
    server.on('request', (request, response) => {
      const connection = this.connections.get(peerOf(request.socket));
      if (!connection) return;
      connection.http = request.socket;
      connection.inFlight++;
      response.once('close', () => {
        connection.inFlight--;
        if (this.draining && connection.inFlight === 0) this.destroy(connection);
      });
    });
  }

  /**
   * From now on: closes every connection without a request in flight, the others as soon as
   * their last response is sent, and any new one as it arrives.
   */
  drain(): void {
    this.draining = true;
    for (const connection of this.connections.values()) if (connection.inFlight === 0) this.destroy(connection);
  }

  /** Closes every connection, requests in flight included. */
  closeAll(): void {
    this.draining = true;
    for (const connection of this.connections.values()) this.destroy(connection);
  }

  private destroy(connection: Connection): void {
    (connection.http ?? connection.raw).destroy();
  }
}
