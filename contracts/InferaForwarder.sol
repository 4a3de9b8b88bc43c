// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title InferaForwarder
/// @notice The trusted ERC-2771 forwarder of gasless requests: a relayer sends a user's signed
///         ForwardRequest (EIP-712 domain "InferaForwarder", version "1", bound to this chain
///         and this address; a per-signer sequential nonce; a deadline) and pays its gas, and the
///         target (JobRegistry) sees the signer as the sender. OpenZeppelin's ERC2771Forwarder,
///         unchanged; this contract only names it for the deployment.
/// @dev executeBatch with a non-zero refund receiver skips a request that is expired, badly
///      signed or whose nonce is used (for example because someone relayed it first), so one
///      front-run item never reverts a relayer's batch. Signatures are ECDSA only (EOA signers).
contract InferaForwarder is ERC2771Forwarder {
    /// @notice The EIP-712 domain name signed requests bind.
    string public constant DOMAIN_NAME = "InferaForwarder";

    constructor() ERC2771Forwarder(DOMAIN_NAME) {}
}
