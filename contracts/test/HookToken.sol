// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title HookToken
/// @notice Test-only: an ERC20 that calls an arbitrary target on every transfer, like a token with
///         transfer hooks (ERC-777 style) would, to try to re-enter the registries mid-transfer.
contract HookToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    bool public reentrySucceeded;
    uint256 public reentryAttempts;
    bytes public lastRevertData;
    bool private _inHook;

    constructor() ERC20("Hook", "HOOK") {}

    /// @notice Mint freely (test token).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Call `target` with `data` from inside every later transfer.
    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (hookTarget == address(0) || _inHook) return;
        _inHook = true;
        reentryAttempts += 1;
        (bool ok, bytes memory returned) = hookTarget.call(hookData);
        if (ok) reentrySucceeded = true;
        else lastRevertData = returned;
        _inHook = false;
    }
}
